// The official openai npm package, unmodified, pointed at tollgate: only the
// base URL and the key change.  Prints one JSON line per call with the
// request id tollgate assigned and what the SDK saw.
import OpenAI from "openai";

const client = new OpenAI({
  baseURL: process.env.TG_URL + "/v1",
  apiKey: process.env.APP_KEY,
  maxRetries: 0,
});
const out = (o) => console.log(JSON.stringify(o));

// Plain chat completion.
{
  const { data, request_id } = await client.chat.completions
    .create({
      model: "gpt-4o-mini",
      messages: [{ role: "user", content: "Say hello in three words." }],
    })
    .withResponse();
  out({
    case: "chat",
    request_id,
    content: data.choices[0].message.content,
    input: data.usage.prompt_tokens,
    output: data.usage.completion_tokens,
  });
}

// Streaming chat without include_usage: tollgate must hide its usage chunk.
{
  const { data: stream, request_id } = await client.chat.completions
    .create({
      model: "gpt-4o-mini",
      stream: true,
      messages: [{ role: "user", content: "Count to ten." }],
      mock: { chunks: 25, split: 5 },
    })
    .withResponse();
  let chunks = 0, text = "", sawUsage = false, emptyChoices = 0;
  for await (const chunk of stream) {
    chunks++;
    if (chunk.usage) sawUsage = true;
    if (chunk.choices.length === 0) emptyChoices++;
    text += chunk.choices[0]?.delta?.content ?? "";
  }
  out({ case: "stream", request_id, chunks, text_len: text.length, sawUsage, emptyChoices });
}

// Streaming with include_usage: the SDK gets the usage chunk.
{
  const { data: stream, request_id } = await client.chat.completions
    .create({
      model: "gpt-4o-mini",
      stream: true,
      stream_options: { include_usage: true },
      messages: [{ role: "user", content: "Hi" }],
      mock: { chunks: 4 },
    })
    .withResponse();
  let usage = null;
  for await (const chunk of stream) if (chunk.usage) usage = chunk.usage;
  out({ case: "stream_usage", request_id, input: usage?.prompt_tokens, output: usage?.completion_tokens });
}

// Embeddings.
{
  const { data, request_id } = await client.embeddings
    .create({ model: "text-embedding-3-small", input: ["one text", "another text"] })
    .withResponse();
  out({ case: "embeddings", request_id, n: data.data.length, input: data.usage.prompt_tokens });
}

// A refusal surfaces as the SDK's typed error with tollgate's code.
try {
  await client.chat.completions.create({ model: "gpt-4o", messages: [] });
  out({ case: "denied", status: 0 });
} catch (e) {
  out({ case: "denied", status: e.status, code: e.code, type: e.type });
}
