/*
 * cfg: the shipped configuration, a fixture using every feature, defaults,
 * and a table of broken configurations, each expecting specific
 * "file:line:col: message" errors (all of them, not just the first).
 */
#include "config.h"

#include <sys/stat.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "auth.h"
#include "cfg.h"
#include "tap.h"
#include "util.h"
#include "xmalloc.h"

#define HEX64	"0123456789abcdef0123456789abcdef" \
		"0123456789abcdef0123456789abcdef"

/*
 * A good tree, in pieces so that a case can swap one line.  Line numbers
 * in tollgate.json: 1 "{", 2 listen, 3-6 providers, 7 models, 8 budgets,
 * 9 ledger, 10 "}" (one more for each extra line a case inserts).
 */
#define TG_HEAD		"{\n"
#define TG_LISTEN	"\"listen\": [\"127.0.0.1:8080\"],\n"
#define TG_PROV_OPENAI	"\"openai\": {\"api\": \"openai\", \"base_url\": " \
			"\"https://api.openai.com\", \"key_env\": \"OK\"},\n"
#define TG_PROV_ANTH	"\"anthropic\": {\"api\": \"anthropic\", " \
			"\"base_url\": \"https://api.anthropic.com\", " \
			"\"key_env\": \"AK\"}\n"
#define TG_PROV		"\"providers\": {\n" TG_PROV_OPENAI TG_PROV_ANTH "},\n"
#define TG_MODELS	"\"models\": \"models.json\",\n"
#define TG_BUDGETS	"\"budgets\": \"budgets\",\n"
#define TG_LEDGER	"\"ledger\": {\"path\": \"var/t.db\"}\n"
#define TG_TAIL		TG_MODELS TG_BUDGETS TG_LEDGER "}\n"
#define TG_GOOD		TG_HEAD TG_LISTEN TG_PROV TG_TAIL

#define MODELS_HEAD	"{\n\"version\": \"v1\",\n\"models\": {\n"
#define MODEL_MINI	"\"gpt-4o-mini\": {\"provider\": \"openai\", " \
			"\"usd_per_mtok\": {\"input\": 0.15, " \
			"\"output\": 0.6}},\n"
#define MODEL_HAIKU	"\"claude-haiku-4-5\": {\"provider\": \"anthropic\", " \
			"\"usd_per_mtok\": {\"input\": 1, \"output\": 5}}\n"
#define MODELS_TAIL	"}\n}\n"
#define MODELS_GOOD	MODELS_HEAD MODEL_MINI MODEL_HAIKU MODELS_TAIL

/* Team files: line 2 team, line 4 the app (key id at col 27, hmac 44). */
#define TEAM(team, app, id, hmac, extra)				\
	"{\n\"team\": \"" team "\",\n\"apps\": {\n"			\
	"\"" app "\": {\"keys\": [{\"id\": \"" id "\", \"hmac\": \""	\
	hmac "\"}]" extra "}\n}\n}\n"
#define TEAM_A_GOOD	TEAM("a", "app-a", "keyA1", HEX64, "")

struct bad_case {
	const char	*name;
	const char	*tollgate;	/* NULL: TG_GOOD */
	const char	*models;	/* NULL: MODELS_GOOD */
	const char	*team_a;	/* budgets/a.json; NULL: TEAM_A_GOOD */
	const char	*team_b;	/* budgets/b.json; NULL: none */
	size_t		 nerrors;
	const char	*want[8];	/* each is part of some error */
};

static const struct bad_case bad[] = {
	{ "unknown key, with a suggestion",
	  TG_HEAD "\"lisen\": [\"127.0.0.1:8080\"],\n" TG_PROV TG_TAIL,
	  NULL, NULL, NULL, 2,
	  { "/tollgate.json:1:1: missing required key \"listen\"",
	    "/tollgate.json:2:1: unknown key \"lisen\" in tollgate.json "
	    "(did you mean \"listen\"?)" } },
	{ "unknown nested key",
	  TG_HEAD TG_LISTEN "\"log\": {\"level\": \"info\", \"acess\": true},\n"
	  TG_PROV TG_TAIL, NULL, NULL, NULL, 1,
	  { "/tollgate.json:3:26: unknown key \"acess\" in \"log\" (did you "
	    "mean \"access\"?)" } },
	{ "unknown key without a suggestion",
	  TG_HEAD TG_LISTEN "\"colour\": \"blue\",\n" TG_PROV TG_TAIL,
	  NULL, NULL, NULL, 1,
	  { "/tollgate.json:3:1: unknown key \"colour\" in tollgate.json" } },
	{ "wrong type",
	  TG_HEAD TG_LISTEN "\"workers\": \"8\",\n" TG_PROV TG_TAIL,
	  NULL, NULL, NULL, 1,
	  { "/tollgate.json:3:12: \"workers\": expected an integer from 0 to "
	    "256, got a string" } },
	{ "out of range",
	  TG_HEAD TG_LISTEN "\"workers\": 300,\n" TG_PROV TG_TAIL,
	  NULL, NULL, NULL, 1,
	  { "/tollgate.json:3:12: \"workers\": expected an integer from 0 to "
	    "256, got 300" } },
	{ "wrong type of object",
	  TG_HEAD TG_LISTEN "\"log\": \"debug\",\n" TG_PROV TG_TAIL,
	  NULL, NULL, NULL, 1,
	  { "/tollgate.json:3:8: \"log\": expected an object, got a "
	    "string" } },
	{ "listen without a port",
	  TG_HEAD "\"listen\": [\"localhost\"],\n" TG_PROV TG_TAIL,
	  NULL, NULL, NULL, 1,
	  { "/tollgate.json:2:12: \"listen\": \"localhost\" has no port "
	    "(expected \"host:port\")" } },
	{ "listen: IPv6 without brackets, port too big, not a string",
	  TG_HEAD "\"listen\": [\"::1:8080\", \"h:65536\", 80],\n" TG_PROV
	  TG_TAIL, NULL, NULL, NULL, 3,
	  { "/tollgate.json:2:12: \"listen\": \"::1:8080\" has an IPv6 "
	    "address without brackets",
	    "/tollgate.json:2:24: \"listen\": \"h:65536\" has an invalid port",
	    "/tollgate.json:2:35: \"listen\" item 3: expected a "
	    "\"host:port\" string, got an integer" } },
	{ "empty listen list",
	  TG_HEAD "\"listen\": [],\n" TG_PROV TG_TAIL, NULL, NULL, NULL, 1,
	  { "/tollgate.json:2:11: \"listen\": expected a \"host:port\" "
	    "string or a non-empty array of them, got an empty array" } },
	{ "bad URL: user information",
	  TG_HEAD TG_LISTEN "\"providers\": {\n\"openai\": {\"api\": "
	  "\"openai\", \"base_url\": \"https://u@api.openai.com\", "
	  "\"key_env\": \"OK\"},\n" TG_PROV_ANTH "},\n" TG_TAIL,
	  NULL, NULL, NULL, 1,
	  { "/tollgate.json:4:41: \"base_url\": URL "
	    "\"https://u@api.openai.com\" must not contain user "
	    "information" } },
	{ "bad URLs in endpoints",
	  TG_HEAD TG_LISTEN "\"providers\": {\n\"openai\": {\"api\": "
	  "\"openai\", \"endpoints\": [\"ftp://h\", \"https://h/v1?x=1\", "
	  "\"https://h:99999\", \"https://\"], \"key_env\": \"OK\"},\n"
	  TG_PROV_ANTH "},\n" TG_TAIL, NULL, NULL, NULL, 4,
	  { "/tollgate.json:4:43: \"endpoints\" item 1: URL \"ftp://h\" must "
	    "start with http:// or https://",
	    "/tollgate.json:4:54: \"endpoints\" item 2: URL "
	    "\"https://h/v1?x=1\" must not have a query or a fragment",
	    "\"endpoints\" item 3: URL \"https://h:99999\" has an invalid "
	    "port",
	    "\"endpoints\" item 4: URL \"https://\" has no host" } },
	{ "base_url and endpoints",
	  TG_HEAD TG_LISTEN "\"providers\": {\n\"openai\": {\"api\": "
	  "\"openai\", \"base_url\": \"https://a\", \"endpoints\": "
	  "[\"https://b\"], \"key_env\": \"OK\"},\n" TG_PROV_ANTH "},\n"
	  TG_TAIL, NULL, NULL, NULL, 1,
	  { "/tollgate.json:4:54: provider \"openai\" has both \"base_url\" "
	    "and \"endpoints\"; give one" } },
	{ "provider: no URL, no key_env, unknown api, bad timeout",
	  TG_HEAD TG_LISTEN "\"providers\": {\n\"openai\": {\"api\": "
	  "\"gemini\", \"idle_timeout_ms\": 0},\n" TG_PROV_ANTH "},\n"
	  TG_TAIL, NULL, NULL, NULL, 4,
	  { "/tollgate.json:4:11: provider \"openai\" needs \"base_url\" or "
	    "\"endpoints\"",
	    "/tollgate.json:4:11: missing required key \"key_env\"",
	    "/tollgate.json:4:19: \"api\": unknown value \"gemini\" "
	    "(expected \"openai\" or \"anthropic\")",
	    "/tollgate.json:4:48: \"idle_timeout_ms\": expected an integer "
	    "from 1 to 3600000, got 0" } },
	{ "syntax error (jansson's position)",
	  TG_HEAD TG_LISTEN "\"workers\": 1,,\n" TG_PROV TG_TAIL,
	  NULL, NULL, NULL, 1,
	  { "/tollgate.json:3:" } },
	{ "duplicate key",
	  TG_HEAD TG_LISTEN TG_LISTEN TG_PROV TG_TAIL, NULL, NULL, NULL, 1,
	  { "/tollgate.json:3:", "duplicate object key" } },
	{ "top level not an object",
	  "[1, 2]\n", NULL, NULL, NULL, 1,
	  { "/tollgate.json:1:1: expected a JSON object at the top level, "
	    "got an array" } },
	{ "missing required keys",
	  "{\n\"listen\": \"127.0.0.1:8080\"\n}\n", NULL, NULL, NULL, 4,
	  { "/tollgate.json:1:1: missing required key \"providers\"",
	    "/tollgate.json:1:1: missing required key \"models\"",
	    "/tollgate.json:1:1: missing required key \"budgets\"",
	    "/tollgate.json:1:1: missing required key \"ledger\"" } },
	{ "models file missing",
	  TG_HEAD TG_LISTEN TG_PROV "\"models\": \"nope.json\",\n" TG_BUDGETS
	  TG_LEDGER "}\n", NULL, NULL, NULL, 1,
	  { "/tollgate.json:7:11: cannot read models file \"/",
	    "/nope.json\": No such file or directory" } },
	{ "budgets directory missing",
	  TG_HEAD TG_LISTEN TG_PROV TG_MODELS "\"budgets\": \"nope\",\n"
	  TG_LEDGER "}\n", NULL, NULL, NULL, 1,
	  { "/tollgate.json:8:12: \"budgets\": cannot open directory" } },
	{ "unknown provider in models.json",
	  NULL, MODELS_HEAD "\"gpt-4o-mini\": {\"provider\": \"azure\", "
	  "\"usd_per_mtok\": {\"input\": 0.15}},\n" MODEL_HAIKU MODELS_TAIL,
	  NULL, NULL, 1,
	  { "/models.json:4:29: model \"gpt-4o-mini\": unknown provider "
	    "\"azure\" (configured: \"anthropic\" or \"openai\")" } },
	{ "prices",
	  NULL, MODELS_HEAD "\"gpt-4o-mini\": {\"provider\": \"openai\", "
	  "\"usd_per_mtok\": {\"input\": -1, \"cached_input\": 1, "
	  "\"cache_read\": 1, \"output\": \"0.6\", \"reasoning\": 1}},\n"
	  "\"x\": {\"provider\": \"openai\", \"usd_per_mtok\": "
	  "{\"output\": 1}},\n" MODEL_HAIKU MODELS_TAIL, NULL, NULL, 5,
	  { "/models.json:4:65: \"input\": expected a price in USD per "
	    "million tokens from 0 to 1000000 with at most 9 decimals, got a "
	    "number out of range",
	    "/models.json:4:88: \"cache_read\" and \"cached_input\" are the "
	    "same price; give one",
	    "/models.json:4:115: \"output\": expected a price",
	    "/models.json:4:122: unknown key \"reasoning\" in "
	    "\"usd_per_mtok\" of model \"gpt-4o-mini\"",
	    "/models.json:5:45: model \"x\": \"usd_per_mtok\" needs an "
	    "\"input\" price" } },
	{ "fallbacks",
	  NULL, MODELS_HEAD "\"gpt-4o-mini\": {\"provider\": \"openai\", "
	  "\"usd_per_mtok\": {\"input\": 1}, \"fallback\": "
	  "[\"claude-haiku-4-5\", \"gpt-5\", \"gpt-4o-mini\"]},\n"
	  MODEL_HAIKU MODELS_TAIL, NULL, NULL, 3,
	  { "/models.json:4:82: model \"gpt-4o-mini\": fallback "
	    "\"claude-haiku-4-5\" uses the anthropic API, not openai",
	    "/models.json:4:102: model \"gpt-4o-mini\": fallback \"gpt-5\" is "
	    "not a model in",
	    "/models.json:4:111: model \"gpt-4o-mini\": fallback to "
	    "itself" } },
	{ "models.json without version, with a bad model name",
	  NULL, "{\n\"models\": {\n\"gpt*\": {}\n}\n}\n", NULL, NULL, 2,
	  { "/models.json:1:1: missing required key \"version\"",
	    "/models.json:3:1: model name \"gpt*\" must be 1 to 128 printable "
	    "characters without spaces, quotes or glob characters" } },
	{ "duplicate app across two team files",
	  NULL, NULL, NULL, TEAM("b", "app-a", "keyB1", HEX64, ""), 1,
	  { "/budgets/b.json:4:1: app \"app-a\" is already defined at ",
	    "/budgets/a.json:4:1" } },
	{ "duplicate team",
	  NULL, NULL, NULL, TEAM("a", "app-b", "keyB1", HEX64, ""), 1,
	  { "/budgets/b.json:2:9: team \"a\" is already defined at ",
	    "/budgets/a.json:2:9" } },
	{ "duplicate key id",
	  NULL, NULL, NULL, TEAM("b", "app-b", "keyA1", HEX64, ""), 1,
	  { "/budgets/b.json:4:27: key id \"keyA1\" is already defined at ",
	    "/budgets/a.json:4:27" } },
	{ "bad hmac",
	  NULL, NULL, TEAM("a", "app-a", "keyA1", "0123ABCD", ""), NULL, 1,
	  { "/budgets/a.json:4:44: \"hmac\": expected 64 lowercase hex "
	    "digits" } },
	{ "bad key id, bad expiry",
	  NULL, NULL, "{\n\"team\": \"a\",\n\"apps\": {\n\"app-a\": "
	  "{\"keys\": [{\"id\": \"k-1\", \"hmac\": \"" HEX64 "\", "
	  "\"expires\": \"2027-02-29\"}]}\n}\n}\n", NULL, 2,
	  { "/budgets/a.json:4:27: key id \"k-1\" must be 4 to 32 letters and "
	    "digits",
	    "/budgets/a.json:4:121: \"expires\": expected a date "
	    "\"YYYY-MM-DD\", got \"2027-02-29\"" } },
	{ "unknown tier",
	  NULL, NULL,
	  TEAM("a", "app-a", "keyA1", HEX64, ", \"tier\": \"gold\""), NULL, 1,
	  { "/budgets/a.json:4:122: app \"app-a\": unknown tier \"gold\" "
	    "(tiers: \"pilot\", \"production\" or \"sandbox\")" } },
	{ "tiers without production",
	  TG_HEAD TG_LISTEN "\"tiers\": {\"sandbox\": {}},\n" TG_PROV TG_TAIL,
	  NULL, NULL, NULL, 1,
	  { "/tollgate.json:3:10: \"tiers\" has no \"production\" tier" } },
	{ "limits",
	  NULL, NULL, TEAM("a", "app-a", "keyA1", HEX64, ",\n\"limits\": ["
	  "{\"usd\": 5, \"tokens\": 10, \"per\": \"day\"},\n"
	  "{\"requests\": 1.5, \"per\": \"fortnight\"},\n"
	  "{\"per\": \"day\"},\n"
	  "{\"usd\": 1, \"per\": \"day\", \"alert_at\": [0, 0.5, 1.5]},\n"
	  "{\"usd\": 0.0000000001, \"per\": \"day\"}]"), NULL, 7,
	  { "/budgets/a.json:5:23: a limit has exactly one of \"usd\", "
	    "\"tokens\" or \"requests\" (this one also has \"usd\")",
	    "/budgets/a.json:6:14: \"requests\": expected an integer from 1 to "
	    "1000000000000, got 1.5",
	    "/budgets/a.json:6:26: \"per\": unknown value \"fortnight\" "
	    "(expected \"minute\", \"hour\", \"day\", \"week\" or \"month\")",
	    "/budgets/a.json:7:1: a limit needs one of \"usd\", \"tokens\" or "
	    "\"requests\"",
	    "/budgets/a.json:8:39: \"alert_at\": expected a ratio above 0 and "
	    "at most 1, got a number out of range",
	    "/budgets/a.json:8:47: \"alert_at\": expected a ratio",
	    "/budgets/a.json:9:9: \"usd\": expected a positive number of "
	    "dollars" } },
	{ "model rules",
	  NULL, NULL, TEAM("a", "app-a", "keyA1", HEX64, ",\n\"models\": {\n"
	  "\"allow\": [],\n"
	  "\"deny\": \"gpt-4o\",\n"
	  "\"alias\": {\"default\": \"gpt-5\", \"x\": 1},\n"
	  "\"downgrade\": [{\"when_used\": 0, \"from\": \"gpt-4o-mini\", "
	  "\"to\": \"gpt-5\"}],\n"
	  "\"max_output_tokens\": 0,\n"
	  "\"max_tokens\": 1}"), NULL, 8,
	  { "/budgets/a.json:6:10: \"allow\": empty list would allow nothing",
	    "/budgets/a.json:7:9: \"deny\": expected an array of model names "
	    "or globs, got a string",
	    "/budgets/a.json:8:22: alias target \"gpt-5\" is not a model in ",
	    "/budgets/a.json:8:36: alias \"x\": expected a model name, got an "
	    "integer",
	    "/budgets/a.json:9:29: \"when_used\": expected a ratio above 0 and "
	    "at most 1",
	    "/budgets/a.json:9:61: \"to\": \"gpt-5\" is not a model in ",
	    "/budgets/a.json:10:22: \"max_output_tokens\": expected an integer "
	    "from 1 to 100000000, got 0",
	    "/budgets/a.json:11:1: unknown key \"max_tokens\" in \"models\" of "
	    "app \"app-a\"" } },
	{ "unknown keys in a budget file",
	  NULL, NULL, "{\n\"team\": \"a\",\n\"costcenter\": \"CC-1\",\n"
	  "\"apps\": {\n\"app-a\": {\"key\": []}\n}\n}\n", NULL, 2,
	  { "/budgets/a.json:3:1: unknown key \"costcenter\" in a budget file "
	    "(did you mean \"cost_center\"?)",
	    "/budgets/a.json:5:11: unknown key \"key\" in app \"app-a\" (did "
	    "you mean \"keys\"?)" } },
	{ "budget file without team, bad names",
	  NULL, NULL, "{\n\"apps\": {}\n}\n",
	  "{\n\"team\": \"b c\",\n\"apps\": {}\n}\n", 2,
	  { "/budgets/a.json:1:1: missing required key \"team\"",
	    "/budgets/b.json:2:9: team name \"b c\" must be 1 to 64 letters, "
	    "digits, '.', '_' or '-'" } },
	{ "several errors in several files, all reported",
	  TG_HEAD TG_LISTEN "\"workers\": -1,\n" TG_PROV TG_TAIL,
	  MODELS_HEAD "\"gpt-4o-mini\": {\"provider\": \"opneai\", "
	  "\"usd_per_mtok\": {\"input\": 0.15}},\n" MODEL_HAIKU MODELS_TAIL,
	  TEAM("a", "app-a", "keyA1", "xyz", ", \"tier\": \"gold\""),
	  "{\"team\": \"b\", \"apps\": {}, \"budget\": 1}", 5,
	  { "/tollgate.json:3:12: \"workers\": expected an integer",
	    "/models.json:4:29: model \"gpt-4o-mini\": unknown provider "
	    "\"opneai\"",
	    "/budgets/a.json:4:44: \"hmac\": expected 64 lowercase hex",
	    "/budgets/a.json:4:61: app \"app-a\": unknown tier \"gold\"",
	    "/budgets/b.json:1:27: unknown key \"budget\" in a budget "
	    "file" } },
	{ "admin listen equals a proxy listen; unknown time zone",
	  TG_HEAD TG_LISTEN "\"admin\": {\"listen\": \"127.0.0.1:8080\"}, "
	  "\"timezone\": \"Mars/Olympus\",\n" TG_PROV TG_TAIL,
	  NULL, NULL, NULL, 2,
	  { "/tollgate.json:3:21: admin listen address \"127.0.0.1:8080\" is "
	    "also a proxy listen address",
	    "/tollgate.json:3:52: \"timezone\": unknown time zone "
	    "\"Mars/Olympus\"" } },
	{ "tls with missing files; counters",
	  TG_HEAD TG_LISTEN "\"tls\": {\"listen\": \"0.0.0.0:8443\", \"cert\": "
	  "\"none.pem\"},\n\"counters\": {\"store\": \"memcached\", \"url\": "
	  "\"http://r\", \"on_error\": \"retry\"},\n" TG_PROV TG_TAIL,
	  NULL, NULL, NULL, 5,
	  { "/tollgate.json:3:8: missing required key \"key\"",
	    "/tollgate.json:3:43: \"cert\": cannot read \"/",
	    "/tollgate.json:4:23: \"store\": unknown value \"memcached\"",
	    "/tollgate.json:4:43: \"url\": \"http://r\" must start with "
	    "redis://",
	    "/tollgate.json:4:67: \"on_error\": unknown value \"retry\"" } },
	{ "a parse error quoting a line end",
	  "\"\\\n", NULL, NULL, NULL, 1,
	  { "/tollgate.json:2:1: invalid escape near '\"\\?'" } },
	{ "a parse error quoting bad UTF-8",
	  "{\"listen\": \"\\u0\xd0\xa1\"}", NULL, NULL, NULL, 1,
	  { "/tollgate.json:1:", "invalid escape near '\"\\u0?'" } },
	{ "a key with a line end and an escape",
	  TG_HEAD TG_LISTEN "\"a\\nb\\u001b[31m\": 1,\n" TG_PROV TG_TAIL,
	  NULL, NULL, NULL, 1,
	  { "/tollgate.json:3:1: unknown key \"a?b?[31m\" in "
	    "tollgate.json" } },
};

static void
write_file(const char *dir, const char *name, const char *text)
{
	char	*path;
	FILE	*f;

	xasprintf(&path, "%s/%s", dir, name);
	if ((f = fopen(path, "w")) == NULL) {
		perror(path);
		exit(1);
	}
	fputs(text, f);
	fclose(f);
	free(path);
}

static char *
make_tree(const char *base, size_t i, const char *tg, const char *models,
    const char *team_a, const char *team_b)
{
	char	*dir, *sub;

	xasprintf(&dir, "%s/case%zu", base, i);
	xasprintf(&sub, "%s/budgets", dir);
	if (mkdir(dir, 0700) == -1 || mkdir(sub, 0700) == -1) {
		perror(dir);
		exit(1);
	}
	free(sub);
	write_file(dir, "tollgate.json", tg);
	write_file(dir, "models.json", models);
	if (team_a != NULL)
		write_file(dir, "budgets/a.json", team_a);
	if (team_b != NULL)
		write_file(dir, "budgets/b.json", team_b);
	return (dir);
}

static struct cfg *
load(const char *path, char ***errors, size_t *nerrors, int show)
{
	struct cfg	*cfg;
	size_t		 i;

	cfg = cfg_load(path, errors, nerrors);
	for (i = 0; show && i < *nerrors; i++)
		printf("# %s\n", (*errors)[i]);
	return (cfg);
}

static int
rm_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	return (remove(path));
}

static void
test_bad(const char *base)
{
	const struct bad_case	*c;
	struct cfg		*cfg;
	char			*dir, *path, **errors;
	const char		*p;
	json_t			*js;	/* new */
	size_t			 nerrors, i, j, k;
	int			 found, sorted, printable;

	for (i = 0; i < nitems(bad); i++) {
		c = &bad[i];
		dir = make_tree(base, i, c->tollgate ? c->tollgate : TG_GOOD,
		    c->models ? c->models : MODELS_GOOD,
		    c->team_a ? c->team_a : TEAM_A_GOOD, c->team_b);
		xasprintf(&path, "%s/tollgate.json", dir);
		cfg = load(path, &errors, &nerrors, 0);
		ok(cfg == NULL, "%s: refused", c->name);
		is_int(nerrors, c->nerrors, "%s: %zu errors", c->name,
		    c->nerrors);
		for (j = 0; j < nitems(c->want) && c->want[j] != NULL; j++) {
			found = 0;
			for (k = 0; k < nerrors; k++) {
				if (strstr(errors[k], c->want[j]) != NULL)
					found = 1;
			}
			ok(found, "%s: \"%s\"", c->name, c->want[j]);
		}
		/* Errors come sorted: by file, then line, then column. */
		sorted = 1;
		for (k = 0; k < nerrors; k++) {
			if (strncmp(errors[k], base, strlen(base)) != 0)
				sorted = 0;
		}
		ok(sorted, "%s: every error names its file", c->name);
		/* One line of UTF-8 each: tollgate check, the reload log. */
		printable = 1;
		for (k = 0; k < nerrors; k++) {
			for (p = errors[k]; *p != '\0'; p++) {
				if ((unsigned char)*p < 0x20 || *p == 0x7f)
					printable = 0;
			}
			if ((js = json_string(errors[k])) == NULL)
				printable = 0;
			json_decref(js);
		}
		ok(printable, "%s: every error is a printable line", c->name);
		if (nerrors != c->nerrors || !sorted) {
			for (k = 0; k < nerrors; k++)
				printf("# %s\n", errors[k] + strlen(base));
		}
		cfg_unref(cfg);
		cfg_errors_free(errors, nerrors);
		free(path);
		free(dir);
	}
}

static int
ends_with(const char *s, const char *suffix)
{
	size_t	ls, lx;

	if (s == NULL)
		return (0);
	ls = strlen(s);
	lx = strlen(suffix);
	return (ls >= lx && strcmp(s + ls - lx, suffix) == 0);
}

/* The configuration a fresh checkout starts with. */
static void
test_shipped(const char *top)
{
	const struct cfg_key	*entry;
	struct cfg_provider	*p;
	struct cfg_model	*m;
	struct cfg_tier		*t;
	struct cfg_app		*a;
	struct cfg_key		*k;
	struct cfg		*cfg;
	char			*path, **errors;
	const char		*demo_key, *demo_pepper;
	size_t			 nerrors;

	demo_key = "tg_quickstart_DemoSecretForTheQuickstartOnly0123456789abcd";
	demo_pepper = "tollgate-quickstart-demo-pepper";
	xasprintf(&path, "%s/conf/tollgate.json", top);
	cfg = load(path, &errors, &nerrors, 1);
	free(path);
	is_int(nerrors, 0, "shipped: no errors");
	cfg_errors_free(errors, nerrors);
	ok(cfg != NULL, "shipped: conf/tollgate.json loads");
	if (cfg == NULL)
		return;

	is_int(cfg->refs, 1, "shipped: one reference");
	ok(cfg->nlisten == 1 && strcmp(cfg->listen[0], "127.0.0.1:8080") == 0,
	    "shipped: listen 127.0.0.1:8080");
	ok(cfg->ntls_listen == 0 && cfg->tls_cert == NULL, "shipped: no TLS");
	is_str(cfg->admin_listen, "127.0.0.1:9090", "shipped: admin listen");
	is_str(cfg->admin_token_env, "TOLLGATE_ADMIN_TOKEN", "shipped: admin "
	    "token env");
	is_int(cfg->workers, 0, "shipped: workers");
	is_str(cfg->timezone, "UTC", "shipped: timezone");
	is_str(cfg->key_pepper_env, "TOLLGATE_KEY_PEPPER", "shipped: pepper "
	    "env");
	ok(cfg->dir != NULL && cfg->dir[0] == '/' && ends_with(cfg->dir,
	    "/conf"), "shipped: dir is absolute");

	ok(cfg->nproviders >= 2, "shipped: providers");
	p = cfg_find_provider(cfg, "openai");
	ok(p != NULL && p->api == API_OPENAI && p->nendpoints == 1 &&
	    p->endpoints[0].tls && p->endpoints[0].port == 443 &&
	    strcmp(p->endpoints[0].host, "api.openai.com") == 0 &&
	    strcmp(p->endpoints[0].path_prefix, "") == 0 &&
	    strcmp(p->endpoints[0].authority, "api.openai.com") == 0,
	    "shipped: openai endpoint");
	ok(p != NULL && strcmp(p->key_env, "OPENAI_API_KEY") == 0 &&
	    p->connect_timeout_ms == 5000 && p->first_byte_timeout_ms ==
	    120000 && p->idle_timeout_ms == 60000 && p->ca_file == NULL,
	    "shipped: openai defaults");
	p = cfg_find_provider(cfg, "anthropic");
	ok(p != NULL && p->api == API_ANTHROPIC, "shipped: anthropic");
	ok(cfg_find_provider(cfg, "azure") == NULL, "shipped: no azure");

	ok(ends_with(cfg->models_path, "/conf/models.json") &&
	    cfg->models_path[0] == '/', "shipped: models path");
	is_str(cfg->price_version, "2026-11-01", "shipped: price version");
	m = cfg_find_model(cfg, "gpt-4o-mini");
	ok(m != NULL && m->provider == cfg_find_provider(cfg, "openai"),
	    "shipped: gpt-4o-mini on openai");
	ok(m != NULL && m->price.nusd_per_mtok[PRICE_INPUT] == 150000000 &&
	    m->price.nusd_per_mtok[PRICE_CACHED_INPUT] == 75000000 &&
	    m->price.nusd_per_mtok[PRICE_OUTPUT] == 600000000 &&
	    !m->price.set[PRICE_CACHE_WRITE], "shipped: gpt-4o-mini prices");
	m = cfg_find_model(cfg, "claude-haiku-4-5");
	ok(m != NULL && m->price.set[PRICE_CACHED_INPUT] &&
	    m->price.nusd_per_mtok[PRICE_CACHED_INPUT] == 100000000 &&
	    m->price.nusd_per_mtok[PRICE_CACHE_WRITE] == 1250000000,
	    "shipped: cache_read is the cached input price");
	m = cfg_find_model(cfg, "text-embedding-3-small");
	ok(m != NULL && m->price.set[PRICE_INPUT] &&
	    !m->price.set[PRICE_OUTPUT], "shipped: embeddings have no output "
	    "price");
	ok(cfg_find_model(cfg, "gpt-4") == NULL, "shipped: unknown model");

	ok(cfg->budgets_path != NULL && cfg->budgets_path[0] == '/' &&
	    ends_with(cfg->budgets_path, "/budgets") &&
	    strstr(cfg->budgets_path, "..") == NULL, "shipped: budgets path");
	ok(ends_with(cfg->ledger_path, "/var/tollgate.db") &&
	    cfg->ledger_path[0] == '/' &&
	    strstr(cfg->ledger_path, "..") == NULL, "shipped: ledger path");

	is_int(cfg->ntiers, 3, "shipped: three tiers");
	t = cfg_find_tier(cfg, "sandbox");
	ok(t != NULL && t->nlimits == 1 && t->limits[0].unit == UNIT_USD &&
	    t->limits[0].amount == 20000000000LL &&
	    t->limits[0].per == PER_MONTH && t->models.nallow > 0,
	    "shipped: sandbox tier");
	ok(cfg_find_tier(cfg, "production") != NULL, "shipped: production");

	is_int(cfg->store, STORE_LOCAL, "shipped: local counters");
	is_str(cfg->redis_url, "redis://127.0.0.1:6379/0", "shipped: redis "
	    "url default");
	is_int(cfg->redis_timeout_ms, 250, "shipped: redis timeout default");
	is_int(cfg->redis_on_error_allow, 0, "shipped: redis on_error deny");
	ok(cfg->alerts_webhook == NULL, "shipped: no webhook");
	ok(cfg->max_header_bytes == 65536 && cfg->max_body_bytes == 10485760 &&
	    cfg->header_timeout_s == 10 && cfg->max_connections == 10000,
	    "shipped: limits");
	is_str(cfg->log_level, "info", "shipped: log level");
	is_int(cfg->log_access, 1, "shipped: access log");

	a = cfg_find_app(cfg, "demo-app");
	ok(a != NULL && strcmp(a->team->name, "demo") == 0 &&
	    strcmp(a->team->cost_center, "CC-0000") == 0 &&
	    a->tier == cfg_find_tier(cfg, "production"),
	    "shipped: demo-app in team demo, production tier");
	ok(a != NULL && a->nlimits >= 1 && a->limits[0].unit == UNIT_USD &&
	    a->limits[0].amount == 50000000000LL &&
	    a->limits[0].per == PER_DAY, "shipped: demo-app $50 a day");
	k = cfg_find_key(cfg, "quickstart", 10);
	ok(k != NULL && k->app == a && k->expires_ms == 0,
	    "shipped: quickstart key, no expiry");
	ok(cfg_find_key(cfg, "quickstartXYZ", 10) == k, "shipped: key id "
	    "bounded by its length");
	ok(cfg_find_key(cfg, "quick", 5) == NULL, "shipped: key id prefix");
	is_int(auth_check(cfg, (const unsigned char *)demo_pepper,
	    strlen(demo_pepper), demo_key, strlen(demo_key), util_now_ms(),
	    &entry), AUTH_OK, "shipped: documented quick-start key works");
	ok(entry == k, "shipped: quick-start key is demo-app's");

	a = cfg_find_app(cfg, "invoice-bot");
	ok(a != NULL && strcmp(a->team->name, "fraud-analytics") == 0 &&
	    a->tier == cfg_find_tier(cfg, "pilot") &&
	    strcmp(a->owner, "bob@example.com") == 0,
	    "shipped: invoice-bot");
	ok(a != NULL && a->nlimits == 4 &&
	    a->limits[0].amount == 100000000000LL &&
	    a->limits[0].nalert == 2 && a->limits[0].alert_at[1] == 0.8 &&
	    a->limits[1].unit == UNIT_TOKENS &&
	    a->limits[1].amount == 2000000 && a->limits[1].per == PER_DAY &&
	    a->limits[2].unit == UNIT_REQUESTS &&
	    a->limits[2].per == PER_MINUTE, "shipped: invoice-bot limits");
	ok(a != NULL && a->models.nallow == 3 && a->models.nalias == 1 &&
	    strcmp(a->models.alias[0].to, "gpt-4o-mini") == 0 &&
	    a->models.ndowngrade == 1 &&
	    a->models.downgrade[0].when_used == 0.8 &&
	    a->models.max_output_tokens == 4096,
	    "shipped: invoice-bot models");
	ok(a != NULL && a->team->nlimits == 1 &&
	    a->team->limits[0].amount == 2000000000000LL,
	    "shipped: fraud-analytics team limit");
	k = cfg_find_key(cfg, "k7Qm2x", 6);
	ok(k != NULL && k->app == a && k->expires_y == 2027 &&
	    k->expires_m == 6 && k->expires_d == 30 &&
	    k->expires_ms == 1814400000000LL,
	    "shipped: k7Qm2x valid through 2027-06-30 (UTC)");
	ok(cfg_find_app(cfg, "nope") == NULL, "shipped: unknown app");

	ok(cfg_ref(cfg) == cfg && cfg->refs == 2, "cfg_ref");
	cfg_unref(cfg);
	is_int(cfg->refs, 1, "cfg_unref");
	cfg_unref(cfg);
	cfg_unref(NULL);
	ok(cfg_ref(NULL) == NULL, "cfg_ref(NULL)");
}

/* tests/fixtures/cfg/basic: every optional feature. */
static void
test_fixture(const char *top)
{
	struct cfg_provider	*p;
	struct cfg_model	*m;
	struct cfg_app		*a;
	struct cfg		*cfg;
	char			*path, **errors;
	size_t			 nerrors;

	setenv("TG_TEST_OPENAI_KEY", "sk-test-123", 1);
	unsetenv("TG_TEST_UNSET_KEY");
	xasprintf(&path, "%s/tests/fixtures/cfg/basic/tollgate.json", top);
	cfg = load(path, &errors, &nerrors, 1);
	free(path);
	cfg_errors_free(errors, nerrors);
	ok(cfg != NULL, "fixture: loads");
	if (cfg == NULL)
		return;

	ok(cfg->nlisten == 2 && strcmp(cfg->listen[1], "[::1]:18080") == 0,
	    "fixture: IPv6 listen");
	is_str(cfg->admin_listen, "127.0.0.1:19090", "fixture: admin listen");
	is_str(cfg->admin_token_env, "TOLLGATE_ADMIN_TOKEN", "fixture: admin "
	    "token env default");
	p = cfg_find_provider(cfg, "openai");
	ok(p != NULL && p->nendpoints == 2, "fixture: two endpoints");
	ok(p != NULL && p->nendpoints == 2 && p->endpoints[0].tls &&
	    strcmp(p->endpoints[0].host, "eu1.example.net") == 0 &&
	    p->endpoints[0].port == 443 &&
	    strcmp(p->endpoints[0].path_prefix, "/openai") == 0 &&
	    strcmp(p->endpoints[0].url, "https://eu1.example.net/openai/") ==
	    0, "fixture: endpoint with a path prefix");
	ok(p != NULL && p->nendpoints == 2 && !p->endpoints[1].tls &&
	    strcmp(p->endpoints[1].host, "::1") == 0 &&
	    p->endpoints[1].port == 8081 &&
	    strcmp(p->endpoints[1].authority, "[::1]:8081") == 0,
	    "fixture: IPv6 endpoint");
	ok(p != NULL && p->nendpoints == 2 &&
	    strcmp(p->endpoints[0].pool_key, "https://eu1.example.net:443|")
	    == 0 && strcmp(p->endpoints[1].pool_key, "http://::1:8081|") == 0,
	    "fixture: connection pool keys");
	ok(p != NULL && p->key != NULL && strcmp(p->key, "sk-test-123") == 0,
	    "fixture: provider key read from the environment");
	p = cfg_find_provider(cfg, "anthropic");
	ok(p != NULL && p->key == NULL, "fixture: unset key is no error");
	ok(p != NULL && p->endpoints[0].port == 8443 &&
	    strcmp(p->endpoints[0].authority, "api.anthropic.com:8443") == 0 &&
	    p->connect_timeout_ms == 1500, "fixture: port and timeout");

	m = cfg_find_model(cfg, "gpt-4o");
	ok(m != NULL && m->nfallback == 1 &&
	    strcmp(m->fallback[0], "gpt-4o-mini") == 0, "fixture: fallback");
	ok(cfg_find_tier(cfg, "sandbox")->limits[0].amount == 500000000,
	    "fixture: $0.5 is 500000000 nano-USD");
	a = cfg_find_app(cfg, "prod");
	ok(a != NULL && a->nlimits == 1 &&
	    a->limits[0].amount == 12345678901LL &&
	    a->limits[0].per == PER_WEEK, "fixture: $12.345678901 exactly");
	ok(a != NULL && a->tier == cfg_find_tier(cfg, "production") &&
	    a->owner == NULL && a->team->cost_center == NULL,
	    "fixture: defaults of an app");
	a = cfg_find_app(cfg, "piloted");
	ok(a != NULL && a->nlimits == 2 && a->limits[0].amount == 2000000,
	    "fixture: 2e6 tokens");
	ok(a != NULL && ends_with(a->team->file, "budgets/alpha.json"),
	    "fixture: team file");
	is_int(cfg->nteams, 2, "fixture: README and dot files ignored");
	ok(cfg->nkeys == 3 && strcmp(cfg->keys[0]->id, "expired1") == 0 &&
	    strcmp(cfg->keys[2]->id, "goodkey1") == 0, "fixture: keys sorted");
	ok(cfg->napps == 3 && strcmp(cfg->apps[0]->name, "piloted") == 0 &&
	    strcmp(cfg->apps[2]->name, "sandboxed") == 0,
	    "fixture: apps sorted");
	ok(strcmp(cfg->teams[0].name, "alpha") == 0 &&
	    cfg->teams[0].apps[0].team == &cfg->teams[0],
	    "fixture: back pointers");

	is_int(cfg->store, STORE_REDIS, "fixture: redis");
	is_str(cfg->redis_url, "redis://10.0.0.5:6379/2", "fixture: redis "
	    "url");
	is_int(cfg->redis_on_error_allow, 1, "fixture: on_error allow");
	is_str(cfg->alerts_webhook, "https://hooks.example.com/T00/B00?x=1",
	    "fixture: webhook");
	ok(cfg->max_body_bytes == 1048576 && cfg->max_header_bytes == 65536,
	    "fixture: limits");
	ok(strcmp(cfg->log_level, "debug") == 0 && cfg->log_access == 0,
	    "fixture: log");
	ok(ends_with(cfg->ledger_path, "/tests/fixtures/cfg/basic/var/"
	    "usage.db"), "fixture: ledger path in a missing directory");

	/* Expiry in the process time zone, on request. */
	if (access("/usr/share/zoneinfo/America/New_York", R_OK) == 0) {
		setenv("TZ", "America/New_York", 1);
		tzset();
		cfg_local_expiry(cfg);
		is_int(cfg_find_key(cfg, "expired1", 8)->expires_ms,
		    1580533200000LL, "fixture: expiry at local midnight "
		    "(New York)");
		setenv("TZ", "UTC", 1);
		tzset();
	} else
		ok(1, "# SKIP no tzdata");
	cfg_unref(cfg);
}

/* Only the required keys: everything else takes its default. */
static void
test_defaults(const char *base)
{
	struct cfg	*cfg;
	char		*dir, *path, **errors;
	size_t		 nerrors;

	dir = make_tree(base, 1000, "{\"listen\": \"[::]:8080\", "
	    "\"providers\": {\"p\": {\"api\": \"anthropic\", \"base_url\": "
	    "\"http://127.0.0.1:9/x/y\", \"key_env\": \"TG_TEST_UNSET_KEY\"}}, "
	    "\"models\": \"models.json\", \"budgets\": \"budgets\", "
	    "\"ledger\": {\"path\": \"/var/tmp/x.db\"}}",
	    "{\"version\": \"1\", \"models\": {}}", NULL, NULL);
	xasprintf(&path, "%s/tollgate.json", dir);
	cfg = load(path, &errors, &nerrors, 1);
	cfg_errors_free(errors, nerrors);
	ok(cfg != NULL, "defaults: minimal config loads");
	if (cfg != NULL) {
		ok(cfg->ntiers == 3 && cfg_find_tier(cfg, "sandbox") != NULL &&
		    cfg_find_tier(cfg, "pilot") != NULL &&
		    cfg_find_tier(cfg, "production") != NULL &&
		    cfg_find_tier(cfg, "production")->nlimits == 0,
		    "defaults: three tiers without limits");
		ok(cfg->nlisten == 1 && strcmp(cfg->listen[0], "[::]:8080") ==
		    0, "defaults: listen as one string");
		is_str(cfg->providers[0].endpoints[0].path_prefix, "/x/y",
		    "defaults: path prefix");
		is_str(cfg->ledger_path, "/var/tmp/x.db", "defaults: absolute "
		    "path kept");
		ok(cfg->nteams == 0 && cfg->napps == 0 && cfg->nkeys == 0 &&
		    cfg->nmodels == 0, "defaults: empty tables");
		ok(cfg_find_key(cfg, "abcd", 4) == NULL &&
		    cfg_find_app(cfg, "x") == NULL &&
		    cfg_find_model(cfg, "x") == NULL,
		    "defaults: empty lookups");
		ok(cfg->workers == 0 && strcmp(cfg->timezone, "UTC") == 0 &&
		    strcmp(cfg->log_level, "info") == 0 && cfg->log_access,
		    "defaults: scalars");
		cfg_unref(cfg);
	}
	free(path);
	free(dir);

	cfg = cfg_load("/nonexistent/tollgate.json", &errors, &nerrors);
	ok(cfg == NULL && nerrors == 1 && strcmp(errors[0],
	    "/nonexistent/tollgate.json:1:1: cannot read configuration file: "
	    "No such file or directory") == 0, "missing main file");
	cfg_errors_free(errors, nerrors);
}

int
main(void)
{
	const char	*top;
	char		 base[] = "/tmp/test_cfg.XXXXXX";

	setenv("TZ", "UTC", 1);
	tzset();
	if ((top = getenv("top_srcdir")) == NULL)
		top = ".";
	if (mkdtemp(base) == NULL) {
		perror("mkdtemp");
		return (1);
	}

	test_shipped(top);
	test_fixture(top);
	test_defaults(base);
	test_bad(base);

	is_str(cfg_per_name(PER_WEEK), "week", "cfg_per_name");
	is_str(cfg_unit_name(UNIT_TOKENS), "tokens", "cfg_unit_name");

	if (getenv("KEEP") == NULL)
		nftw(base, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	return (tap_done());
}
