// Chats as useChat 1.2.12 (@ai-sdk/ui-utils 1.2.11) does, and answers the
// tool calls left waiting as a page answers them, with addToolResult;
// prints what it builds as JSON.
//
//	AI_SDK4_DIR=... node approve4.mjs API CHAT_ID TEXT DENY_REASON
//
// sends TEXT to API with callChatApi; then, for the tool calls of the
// answer left in state "call", sets the result {approved: true} of the
// first and {approved: false, reason: DENY_REASON} of the others
// (updateToolCallResult, as addToolResult does) and, the calls all having
// results, sends the conversation again, as useChat then does, reading the
// stream into the same message. It prints {asked, messages, finishes,
// errors}: the messages after the first turn and at the end, and the
// finish of each turn.
import { createRequire } from 'node:module';

const require = createRequire(process.env.AI_SDK4_DIR.replace(/\/?$/, '/'));
const { callChatApi, fillMessageParts, generateId, getMessageParts, isAssistantMessageWithCompletedToolCalls, updateToolCallResult } = require('@ai-sdk/ui-utils');

const [api, chatId, text, denyReason] = process.argv.slice(2);
const errorOf = (e) => ({ name: e?.name ?? 'Error', message: String(e?.message ?? e) });
const errors = [];
const finishes = [];

// request sends messages to api as useChat 1.2.12 does, and returns the
// messages after it.
async function request(messages) {
  let current = messages;
  try {
    await callChatApi({
      api,
      body: { id: chatId, messages },
      streamProtocol: 'data',
      abortController: () => null,
      restoreMessagesOnFailure() {},
      onUpdate({ message, replaceLastMessage }) {
        current = [...(replaceLastMessage ? messages.slice(0, -1) : messages), message];
      },
      onFinish(message, { finishReason }) { finishes.push(finishReason); },
      generateId,
      lastMessage: messages[messages.length - 1],
    });
  } catch (e) {
    errors.push(errorOf(e));
  }
  return current;
}

const user = { role: 'user', content: text, id: generateId(), createdAt: new Date() };
let messages = await request(fillMessageParts([{ ...user, parts: getMessageParts(user) }]));
const asked = structuredClone(messages);
const waiting = (messages.at(-1).toolInvocations ?? []).filter((t) => t.state === 'call');
messages = structuredClone(messages);
for (const [i, t] of waiting.entries()) {
  updateToolCallResult({
    messages,
    toolCallId: t.toolCallId,
    toolResult: i === 0 ? { approved: true } : { approved: false, reason: denyReason },
  });
}
if (waiting.length > 0 && isAssistantMessageWithCompletedToolCalls(messages.at(-1))) {
  messages = await request(messages);
}
console.log(JSON.stringify({ asked, messages, finishes, errors }));
