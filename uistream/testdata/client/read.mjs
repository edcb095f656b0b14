// Reads UI message streams (files of server-sent events) with the AI SDK's
// own client code, and prints, for each file, the assistant message it
// builds and the errors it reports, as JSON.
//
//	AI_SDK_DIR=/path/with/node_modules node read.mjs stream.sse...
//
// AI_SDK_DIR is a folder whose node_modules holds the "ai" package. Every
// chunk is validated against the SDK's chunk schema.
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';

const require = createRequire(process.env.AI_SDK_DIR.replace(/\/?$/, '/'));
const { parseJsonEventStream, readUIMessageStream, uiMessageChunkSchema } = require('ai');

const results = [];
for (const file of process.argv.slice(2)) {
  const errors = [];
  const chunks = parseJsonEventStream({
    stream: new Response(await readFile(file)).body,
    schema: uiMessageChunkSchema,
  }).pipeThrough(new TransformStream({
    transform(result, controller) {
      if (!result.success) throw result.error;
      controller.enqueue(result.value);
    },
  }));
  let message = null;
  try {
    for await (const m of readUIMessageStream({
      stream: chunks,
      onError: (e) => errors.push({ name: e?.name ?? 'Error', message: String(e?.message ?? e) }),
    })) {
      message = m;
    }
  } catch (e) {
    errors.push({ name: e?.name ?? 'Error', message: String(e?.message ?? e) });
  }
  results.push({ file, message, errors });
}
console.log(JSON.stringify(results));
