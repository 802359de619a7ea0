// The official @anthropic-ai/sdk and openai npm packages, unmodified, pointed
// at tollgate: only the base URL and the key change.  Anthropic Messages
// (plain, streamed, cache token classes, a refusal) and the OpenAI Responses
// API (plain, streamed, cached and reasoning classes, a refusal).  Prints one
// JSON line per call: the case, the x-request-id tollgate set (the ledger
// key), whether it streamed, the usage object exactly as the SDK saw it and,
// for streams, the text and the number of text deltas.  A call that throws
// prints its case with "error" and the script goes on, so that one failure
// does not hide the others; the exit status is 1 if anything unexpected
// happened.
import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";

const TG_URL = process.env.TG_URL;
const APP_KEY = process.env.APP_KEY;
const out = (o) => console.log(JSON.stringify(o));
let failed = 0;

async function run(name, fn) {
  try {
    out({ case: name, ...(await fn()) });
  } catch (e) {
    failed = 1;
    out({ case: name, error: String(e?.stack ?? e), status: e?.status ?? null });
  }
}

// The refusal cases expect a typed error; anything else is a failure.
async function refused(name, fn) {
  try {
    await fn();
    failed = 1;
    out({ case: name, status: 0, error: "the call succeeded" });
  } catch (e) {
    out({
      case: name,
      request_id: e?.headers?.get?.("x-request-id") ?? null,
      class: e?.constructor?.name,
      status: e?.status ?? null,
      type: e?.type ?? null,
      code: e?.code ?? null,
      message: e?.error?.error?.message ?? e?.error?.message ?? e?.message,
    });
  }
}

// ---- Anthropic Messages -------------------------------------------------
const anthropic = new Anthropic({ baseURL: TG_URL, apiKey: APP_KEY, maxRetries: 0 });
const A_MODEL = "claude-haiku-4-5";
const aText = (m) => m.content.filter((b) => b.type === "text").map((b) => b.text).join("");

await run("a_plain", async () => {
  const { data, response } = await anthropic.messages
    .create({
      model: A_MODEL,
      max_tokens: 256,
      messages: [{ role: "user", content: "Say hello in three words." }],
    })
    .withResponse();
  return {
    request_id: response.headers.get("x-request-id"),
    stream: false,
    usage: data.usage,
    text: aText(data),
    stop_reason: data.stop_reason,
  };
});

// messages.stream(): every event consumed, the text collected from the
// deltas, the usage from finalMessage() (message_start + message_delta).
async function aStream(mock) {
  const stream = anthropic.messages.stream({
    model: A_MODEL,
    max_tokens: 512,
    messages: [{ role: "user", content: "Count to twelve." }],
    mock,
  });
  const { response } = await stream.withResponse();
  let events = 0, deltas = 0, text = "";
  for await (const ev of stream) {
    events++;
    if (ev.type === "content_block_delta" && ev.delta.type === "text_delta") {
      deltas++;
      text += ev.delta.text;
    }
  }
  const final = await stream.finalMessage();
  return {
    request_id: response.headers.get("x-request-id"),
    stream: true,
    usage: final.usage,
    text,
    final_text: aText(final),
    deltas,
    events,
    stop_reason: final.stop_reason,
  };
}
await run("a_stream", () => aStream({ chunks: 12, split: 7 }));

// Cache classes: "mock" is an extra body member; the SDK sends the body as is.
const A_CACHE = { input: 1000, cached_input: 600, cache_write: 100, output: 20 };
await run("a_cache", async () => {
  const { data, response } = await anthropic.messages
    .create({
      model: A_MODEL,
      max_tokens: 256,
      messages: [{ role: "user", content: "Use the cached context." }],
      mock: { usage: A_CACHE },
    })
    .withResponse();
  return { request_id: response.headers.get("x-request-id"), stream: false, usage: data.usage };
});
await run("a_stream_cache", () => aStream({ chunks: 5, usage: A_CACHE }));

// Anthropic SDK 1.x sends the key as "Authorization: Bearer"; earlier
// versions (and curl examples) send "x-api-key".  The same SDK with the key
// moved to that header, which tollgate must accept too.
await run("a_x_api_key", async () => {
  const legacy = new Anthropic({
    baseURL: TG_URL,
    apiKey: null,
    authToken: null,
    defaultHeaders: { "x-api-key": APP_KEY },
    maxRetries: 0,
  });
  const { data, response } = await legacy.messages
    .create({ model: A_MODEL, max_tokens: 64, messages: [{ role: "user", content: "Hi" }] })
    .withResponse();
  return { request_id: response.headers.get("x-request-id"), stream: false, usage: data.usage };
});

// A model outside models.json (the app allows claude-*): 403.
await refused("a_denied", () =>
  anthropic.messages.create({
    model: "claude-opus-4-1",
    max_tokens: 16,
    messages: [{ role: "user", content: "Hi" }],
  }));

// ---- OpenAI Responses ---------------------------------------------------
const openai = new OpenAI({ baseURL: TG_URL + "/v1", apiKey: APP_KEY, maxRetries: 0 });
const O_MODEL = "gpt-4o-mini";

await run("r_plain", async () => {
  const { data, response } = await openai.responses
    .create({ model: O_MODEL, input: "Say hello in three words." })
    .withResponse();
  return {
    request_id: response.headers.get("x-request-id"),
    stream: false,
    usage: data.usage,
    text: data.output_text,
    status: data.status,
  };
});

async function rStream(mock) {
  const { data: stream, response } = await openai.responses
    .create({ model: O_MODEL, input: "Count to nine.", stream: true, mock })
    .withResponse();
  let events = 0, deltas = 0, text = "", done_text = null, usage = null, completed = 0;
  for await (const ev of stream) {
    events++;
    if (ev.type === "response.output_text.delta") {
      deltas++;
      text += ev.delta;
    } else if (ev.type === "response.output_text.done") {
      done_text = ev.text;
    } else if (ev.type === "response.completed") {
      completed++;
      usage = ev.response.usage;
    }
  }
  return {
    request_id: response.headers.get("x-request-id"),
    stream: true,
    usage,
    text,
    final_text: done_text,
    deltas,
    events,
    completed,
  };
}
await run("r_stream", () => rStream({ chunks: 9, split: 5 }));

const R_CACHE = { input: 500, cached_input: 200, output: 40, reasoning: 30 };
await run("r_cache", async () => {
  const { data, response } = await openai.responses
    .create({ model: O_MODEL, input: "Think, then answer.", mock: { usage: R_CACHE } })
    .withResponse();
  return { request_id: response.headers.get("x-request-id"), stream: false, usage: data.usage };
});
await run("r_stream_cache", () => rStream({ chunks: 4, usage: R_CACHE }));

// gpt-4o is in models.json but not in the app's allow list: 403.
await refused("r_denied", () => openai.responses.create({ model: "gpt-4o", input: "Hi" }));

process.exitCode = failed;
