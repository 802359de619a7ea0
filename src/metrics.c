/*
 * Prometheus metrics: a hash table of series under one mutex, rendered in
 * the text exposition format.  Each series is a family and up to three
 * label values; histograms have fixed buckets suited to LLM calls (from
 * milliseconds to minutes of time to first token).
 */
#include "config.h"

#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "metrics.h"
#include "util.h"
#include "xmalloc.h"

#define NBUCKETS	1024
#define NLABELS		3

static const double hist_bounds[] = {
	0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60,
	120, 300
};
#define NHIST	(sizeof hist_bounds / sizeof hist_bounds[0])

static const struct {
	const char	*name;
	const char	*type;
	const char	*help;
	const char	*labels;
} families[] = {
#define TG_METRIC(e, name, type, help, labels)	{ name, type, help, labels },
#include "tbl/metrics.h"
#undef TG_METRIC
};

struct series {
	struct series	*next;
	enum metric_id	 id;
	char		*label[NLABELS];
	double		 value;
	uint64_t	 hist[NHIST + 1];
	double		 hist_sum;
	uint64_t	 hist_count;
};

static pthread_mutex_t	 m_lock = PTHREAD_MUTEX_INITIALIZER;
static struct series	*m_table[NBUCKETS];
static size_t		 m_nseries;
static double		(*m_fn[M_MAX])(void);

static uint32_t
series_hash(enum metric_id id, const char **l)
{
	uint32_t	h = 2166136261U ^ (uint32_t)id;
	const char	*s;
	int		i;

	for (i = 0; i < NLABELS; i++) {
		for (s = l[i] != NULL ? l[i] : ""; *s != '\0'; s++)
			h = (h ^ (unsigned char)*s) * 16777619U;
		h = (h ^ 0xff) * 16777619U;
	}
	return (h % NBUCKETS);
}

static int
label_eq(const char *a, const char *b)
{
	return (strcmp(a != NULL ? a : "", b != NULL ? b : "") == 0);
}

/* The series for id and labels, created on first use; m_lock held. */
static struct series *
series_get(enum metric_id id, const char *l1, const char *l2, const char *l3)
{
	const char	*l[NLABELS] = { l1, l2, l3 };
	struct series	*s;
	uint32_t	 h = series_hash(id, l);
	int		 i;

	for (s = m_table[h]; s != NULL; s = s->next) {
		if (s->id == id && label_eq(s->label[0], l1) &&
		    label_eq(s->label[1], l2) && label_eq(s->label[2], l3))
			return (s);
	}
	s = xcalloc(1, sizeof *s);
	s->id = id;
	for (i = 0; i < NLABELS; i++)
		s->label[i] = l[i] != NULL ? xstrdup(l[i]) : NULL;
	s->next = m_table[h];
	m_table[h] = s;
	m_nseries++;
	return (s);
}

void
metrics_add(enum metric_id id, double v, const char *l1, const char *l2,
    const char *l3)
{
	pthread_mutex_lock(&m_lock);
	series_get(id, l1, l2, l3)->value += v;
	pthread_mutex_unlock(&m_lock);
}

void
metrics_set(enum metric_id id, double v, const char *l1, const char *l2,
    const char *l3)
{
	pthread_mutex_lock(&m_lock);
	series_get(id, l1, l2, l3)->value = v;
	pthread_mutex_unlock(&m_lock);
}

void
metrics_observe(enum metric_id id, double v)
{
	struct series	*s;
	size_t		 i;

	pthread_mutex_lock(&m_lock);
	s = series_get(id, NULL, NULL, NULL);
	for (i = 0; i < NHIST && v > hist_bounds[i]; i++)
		;
	s->hist[i]++;
	s->hist_sum += v;
	s->hist_count++;
	pthread_mutex_unlock(&m_lock);
}

void
metrics_gauge_fn(enum metric_id id, double (*fn)(void))
{
	m_fn[id] = fn;
}

static void
put_escaped(struct evbuffer *out, const char *s)
{
	for (; *s != '\0'; s++) {
		if (*s == '\\' || *s == '"')
			evbuffer_add_printf(out, "\\%c", *s);
		else if (*s == '\n')
			evbuffer_add(out, "\\n", 2);
		else
			evbuffer_add(out, s, 1);
	}
}

/* {a="x",b="y"} with extra (le="...") appended; nothing when empty. */
static void
put_labels(struct evbuffer *out, const struct series *s, const char *extra)
{
	const char	*names = families[s->id].labels, *comma;
	size_t		 len;
	int		 i, any = 0;

	for (i = 0; i < NLABELS && *names != '\0'; i++) {
		comma = strchr(names, ',');
		len = comma != NULL ? (size_t)(comma - names) : strlen(names);
		evbuffer_add_printf(out, "%s%.*s=\"", any ? "," : "{",
		    (int)len, names);
		put_escaped(out, s->label[i] != NULL ? s->label[i] : "");
		evbuffer_add(out, "\"", 1);
		any = 1;
		names = comma != NULL ? comma + 1 : names + len;
	}
	if (extra != NULL) {
		evbuffer_add_printf(out, "%s%s", any ? "," : "{", extra);
		any = 1;
	}
	if (any)
		evbuffer_add(out, "}", 1);
}

static void
put_value(struct evbuffer *out, double v)
{
	if (v == floor(v) && fabs(v) < 1e15)
		evbuffer_add_printf(out, " %.0f\n", v);
	else
		evbuffer_add_printf(out, " %.9g\n", v);
}

static int
series_cmp(const void *a, const void *b)
{
	const struct series	*x = *(const struct series * const *)a;
	const struct series	*y = *(const struct series * const *)b;
	int			 i, c;

	if (x->id != y->id)
		return (x->id < y->id ? -1 : 1);
	for (i = 0; i < NLABELS; i++) {
		c = strcmp(x->label[i] != NULL ? x->label[i] : "",
		    y->label[i] != NULL ? y->label[i] : "");
		if (c != 0)
			return (c);
	}
	return (0);
}

static void
render_series(struct evbuffer *out, const struct series *s)
{
	const char	*name = families[s->id].name;
	uint64_t	 cum = 0;
	size_t		 j;
	char		 le[48];

	if (strcmp(families[s->id].type, "histogram") != 0) {
		evbuffer_add_printf(out, "%s", name);
		put_labels(out, s, NULL);
		put_value(out, s->value);
		return;
	}
	for (j = 0; j <= NHIST; j++) {
		cum += s->hist[j];
		if (j < NHIST)
			snprintf(le, sizeof le, "le=\"%g\"", hist_bounds[j]);
		else
			snprintf(le, sizeof le, "le=\"+Inf\"");
		evbuffer_add_printf(out, "%s_bucket", name);
		put_labels(out, s, le);
		put_value(out, (double)cum);
	}
	evbuffer_add_printf(out, "%s_sum", name);
	put_labels(out, s, NULL);
	put_value(out, s->hist_sum);
	evbuffer_add_printf(out, "%s_count", name);
	put_labels(out, s, NULL);
	put_value(out, (double)s->hist_count);
}

void
metrics_render(struct evbuffer *out)
{
	struct series	**all, *s, empty;
	size_t		  n = 0, i, k = 0;
	int		  id, any;

	pthread_mutex_lock(&m_lock);
	all = xcalloc(m_nseries + 1, sizeof *all);
	for (i = 0; i < NBUCKETS; i++) {
		for (s = m_table[i]; s != NULL; s = s->next)
			all[n++] = s;
	}
	if (n > 0)
		qsort(all, n, sizeof *all, series_cmp);
	for (id = 0; id < M_MAX; id++) {
		evbuffer_add_printf(out, "# HELP %s %s\n# TYPE %s %s\n",
		    families[id].name, families[id].help, families[id].name,
		    families[id].type);
		if (m_fn[id] != NULL) {
			evbuffer_add_printf(out, "%s", families[id].name);
			put_value(out, m_fn[id]());
			continue;
		}
		for (any = 0; k < n && all[k]->id == (enum metric_id)id; k++) {
			render_series(out, all[k]);
			any = 1;
		}
		if (!any && *families[id].labels == '\0') {
			/* Unlabelled families show zeroes before first use. */
			memset(&empty, 0, sizeof empty);
			empty.id = (enum metric_id)id;
			render_series(out, &empty);
		}
	}
	pthread_mutex_unlock(&m_lock);
	free(all);
}

void
metrics_reset(void)
{
	struct series	*s;
	size_t		 i;
	int		 j;

	pthread_mutex_lock(&m_lock);
	for (i = 0; i < NBUCKETS; i++) {
		while ((s = m_table[i]) != NULL) {
			m_table[i] = s->next;
			for (j = 0; j < NLABELS; j++)
				free(s->label[j]);
			free(s);
		}
	}
	m_nseries = 0;
	pthread_mutex_unlock(&m_lock);
}
