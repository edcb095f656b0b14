// Reads AI SDK 4 data streams with the client code of useChat 1.2.12
// (@ai-sdk/ui-utils 1.2.11), and prints, as JSON, what it builds.
//
//	AI_SDK4_DIR=/path/with/node_modules node read4.mjs stream.txt...
//
// reads each file as the response to a chat request, with callChatApi (and
// so processChatResponse), as useChat reads one, and prints for each the
// assistant message, the stream data, the finish (reason and usage) and the
// errors.
//
//	AI_SDK4_DIR=... node read4.mjs --chat CHAT_ID API_A API_B TEXT1 TEXT2
//
// chats as bolt.diy's page does, with callChatApi and useChat's request
// body (sendExtraMessageFields, and bolt.diy's own fields): TEXT1 to API_A,
// then TEXT2 (as content parts, as bolt.diy sends it) to API_A with the
// conversation so far, then the same to API_B, a server that has not seen
// the chat. It prints the three turns.
//
// AI_SDK4_DIR is a folder whose node_modules holds @ai-sdk/ui-utils.
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';

const require = createRequire(process.env.AI_SDK4_DIR.replace(/\/?$/, '/'));
const { callChatApi, fillMessageParts, generateId, getMessageParts } = require('@ai-sdk/ui-utils');

const errorOf = (e) => ({ name: e?.name ?? 'Error', message: String(e?.message ?? e) });

// readStream reads a file as the response to a chat request.
async function readStream(file) {
  const body = await readFile(file);
  const result = await turn('chat-1', 'http://stream.invalid/api/chat', [], { role: 'user', content: 'Make a page' },
    async () => new Response(body, { headers: { 'content-type': 'text/plain; charset=utf-8', 'x-vercel-ai-data-stream': 'v1' } }));
  return { file, message: result.messages.at(-1), data: result.data, finish: result.finish, errors: result.errors };
}

// turn sends userMessage after messages to api as useChat 1.2.12 does, and
// returns the messages after it, the data, the finish and the errors.
async function turn(chatId, api, messages, userMessage, fetch = globalThis.fetch) {
  const chatMessages = fillMessageParts(messages.concat({
    ...userMessage,
    id: generateId(),
    createdAt: new Date(),
    parts: getMessageParts(userMessage),
  }));
  let current = chatMessages;
  let data = [];
  let finish = null;
  const errors = [];
  try {
    await callChatApi({
      api,
      body: {
        id: chatId,
        messages: chatMessages, // sendExtraMessageFields: true
        data: undefined,
        apiKeys: { OpenRouter: 'sk-not-sent-anywhere' },
        files: {},
        promptId: 'default',
        contextOptimization: false,
      },
      streamProtocol: 'data',
      abortController: () => null,
      restoreMessagesOnFailure() {},
      onUpdate({ message, data: d, replaceLastMessage }) {
        current = [...(replaceLastMessage ? chatMessages.slice(0, -1) : chatMessages), message];
        if (d?.length) data = d;
      },
      onFinish(message, { finishReason, usage }) {
        finish = { finishReason, usage };
      },
      generateId,
      fetch,
      lastMessage: chatMessages[chatMessages.length - 1],
    });
  } catch (e) {
    errors.push(errorOf(e));
  }
  return { messages: current, data, finish, errors };
}

const args = process.argv.slice(2);
if (args[0] === '--chat') {
  const [, chatId, apiA, apiB, text1, text2] = args;
  const first = await turn(chatId, apiA, [], { role: 'user', content: text1 });
  const second = { role: 'user', content: [{ type: 'text', text: text2 }] };
  const again = await turn(chatId, apiA, first.messages, second);
  const elsewhere = await turn(chatId, apiB, first.messages, second);
  console.log(JSON.stringify([first, again, elsewhere]));
} else {
  const results = [];
  for (const file of args) results.push(await readStream(file));
  console.log(JSON.stringify(results));
}
