// Chats with the webapp as bolt.diy's chat page does: useChat 1.2.12's
// client code (callChatApi of @ai-sdk/ui-utils 1.2.11) and bolt.diy's
// request body. The first message's page is reloaded once its first tool
// call shows, and the reloaded page resumes the turn (experimental_resume);
// then a second message follows, with the conversation so far. It prints
// both turns as JSON: the assistant message, the finish and the errors.
//
//	AI_SDK4_DIR=/path/with/node_modules node bolt.mjs API PROMPT SECOND
import { createRequire } from 'node:module';

const require = createRequire(process.env.AI_SDK4_DIR.replace(/\/?$/, '/'));
const { callChatApi, fillMessageParts, generateId, getMessageParts } = require('@ai-sdk/ui-utils');

const [api, prompt, second] = process.argv.slice(2);
const chatId = 'bolt-chat';
const errorOf = (e) => ({ name: e?.name ?? 'Error', message: String(e?.message ?? e) });

// send asks as useChat does: messages are the conversation, the last the
// user's; requestType "resume" asks for the running turn instead. onMessage
// sees each update of the assistant message.
async function send(messages, requestType = 'generate', onMessage = () => {}, abort = null) {
  let message = null;
  let finish = null;
  const errors = [];
  try {
    await callChatApi({
      api,
      body: {
        id: chatId,
        messages, // sendExtraMessageFields: true
        apiKeys: {},
        files: {},
        promptId: 'default',
        contextOptimization: false,
      },
      streamProtocol: 'data',
      requestType,
      abortController: () => abort,
      restoreMessagesOnFailure() {},
      onUpdate({ message: m }) {
        message = m;
        onMessage(m);
      },
      onFinish(m, { finishReason, usage }) {
        finish = { finishReason, usage };
      },
      generateId,
      lastMessage: messages[messages.length - 1],
    });
  } catch (e) {
    errors.push(errorOf(e));
  }
  return { message, finish, errors };
}

const user = (content) => ({ id: generateId(), createdAt: new Date(), role: 'user', content, parts: getMessageParts({ role: 'user', content }) });

const first = [user(prompt)];
const reload = new AbortController();
const cut = await send(first, 'generate', (m) => {
  if (m.parts.some((p) => p.type === 'tool-invocation')) reload.abort();
}, reload);
const resumed = await send(first, 'resume');
const history = fillMessageParts([...first, resumed.message].filter(Boolean));
const next = await send([...history, user([{ type: 'text', text: second }])]);
console.log(JSON.stringify({ cut, resumed, next }));
