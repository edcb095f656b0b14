// Resumes a chat's stream as a reloaded page does, with the clients' own
// code, and prints what it builds as JSON.
//
//	AI_SDK_DIR=... node resume.mjs v5 API CHAT_ID
//
// reconnects as useChat of AI SDK 5 and later does (resume: true): the
// transport's reconnectToStream (GET API/CHAT_ID/stream), read with
// readUIMessageStream; it prints {message} (null when there was nothing to
// resume) and the errors.
//
//	AI_SDK4_DIR=... node resume.mjs v4 API CHAT_ID
//
// resumes as useChat 1.2.12's experimental_resume does: callChatApi with
// requestType "resume" (GET API?chatId=CHAT_ID), which processChatResponse
// reads; it prints {message, finish} and the errors.
import { createRequire } from 'node:module';

const [version, api, chatId] = process.argv.slice(2);
const errorOf = (e) => ({ name: e?.name ?? 'Error', message: String(e?.message ?? e) });
const errors = [];
let message = null;
let finish = null;

if (version === 'v5') {
  const require = createRequire(process.env.AI_SDK_DIR.replace(/\/?$/, '/'));
  const { DefaultChatTransport, readUIMessageStream } = require('ai');
  try {
    const stream = await new DefaultChatTransport({ api }).reconnectToStream({ chatId });
    if (stream !== null) {
      for await (const m of readUIMessageStream({ stream, onError: (e) => errors.push(errorOf(e)) })) {
        message = m;
      }
    }
  } catch (e) {
    errors.push(errorOf(e));
  }
} else {
  const require = createRequire(process.env.AI_SDK4_DIR.replace(/\/?$/, '/'));
  const { callChatApi, generateId } = require('@ai-sdk/ui-utils');
  const user = { id: 'u1', role: 'user', content: 'build it', parts: [{ type: 'text', text: 'build it' }] };
  try {
    await callChatApi({
      api,
      body: { id: chatId, messages: [user] },
      streamProtocol: 'data',
      requestType: 'resume',
      abortController: () => null,
      restoreMessagesOnFailure() {},
      onUpdate({ message: m }) { message = m; },
      onFinish(m, { finishReason, usage }) { finish = { finishReason, usage }; },
      generateId,
      lastMessage: user,
    });
  } catch (e) {
    errors.push(errorOf(e));
  }
}
console.log(JSON.stringify({ message, finish, errors }));
