// Chats as useChat of AI SDK 5 and later does, with the AI SDK's own Chat
// code (AbstractChat over a plain state), and answers the tool calls that
// wait for approval; prints what it builds as JSON.
//
//	AI_SDK_DIR=... node approve.mjs API CHAT_ID TEXT DENY_REASON
//
// sends TEXT to API with the DefaultChatTransport and
// sendAutomaticallyWhen: lastAssistantMessageIsCompleteWithApprovalResponses;
// once the turn ends, approves the first call in state "approval-requested"
// and denies the others with DENY_REASON (addToolApprovalResponse), which
// sends the answers; then waits for that request's stream to end. It prints
// {asked, messages, requests, errors}: the messages when the first turn
// ended, at the end, and the bodies of the requests sent.
import { createRequire } from 'node:module';

const require = createRequire(process.env.AI_SDK_DIR.replace(/\/?$/, '/'));
const { AbstractChat, DefaultChatTransport, lastAssistantMessageIsCompleteWithApprovalResponses } = require('ai');

const [api, chatId, text, denyReason] = process.argv.slice(2);
const errorOf = (e) => ({ name: e?.name ?? 'Error', message: String(e?.message ?? e) });
const errors = [];
const requests = [];

// State keeps a chat's state in plain fields, as the frameworks' Chat
// classes keep it in theirs.
class State {
  status = 'ready';
  error = undefined;
  messages = [];
  experimental_queuedMessages = [];
  pushMessage = (m) => { this.messages = this.messages.concat(m); };
  popMessage = () => { this.messages = this.messages.slice(0, -1); };
  replaceMessage = (i, m) => { this.messages = [...this.messages.slice(0, i), this.snapshot(m), ...this.messages.slice(i + 1)]; };
  snapshot = (v) => structuredClone(v);
}

class Chat extends AbstractChat {
  constructor(init) { super({ ...init, state: new State() }); }
}

const fetch = async (url, init) => {
  if (init?.body) requests.push(JSON.parse(init.body));
  return globalThis.fetch(url, init);
};

// settled waits until the chat has sent n requests and has none running.
async function settled(chat, n) {
  for (let i = 0; i < 500; i++) {
    await new Promise((r) => setTimeout(r, 20));
    if (requests.length >= n && (chat.status === 'ready' || chat.status === 'error')) return;
  }
  errors.push({ name: 'Timeout', message: `the chat is still ${chat.status}` });
}

const chat = new Chat({
  id: chatId,
  transport: new DefaultChatTransport({ api, fetch }),
  sendAutomaticallyWhen: lastAssistantMessageIsCompleteWithApprovalResponses,
  onError: (e) => errors.push(errorOf(e)),
});
try {
  await chat.sendMessage({ text });
  await settled(chat, 1);
  const asked = structuredClone(chat.messages);
  const waiting = chat.messages.at(-1).parts.filter((p) => p.state === 'approval-requested');
  for (const [i, p] of waiting.entries()) {
    await chat.addToolApprovalResponse(i === 0
      ? { id: p.approval.id, approved: true }
      : { id: p.approval.id, approved: false, reason: denyReason });
  }
  await settled(chat, waiting.length > 0 ? 2 : 1);
  console.log(JSON.stringify({ asked, messages: chat.messages, requests, errors }));
} catch (e) {
  errors.push(errorOf(e));
  console.log(JSON.stringify({ asked: null, messages: chat.messages, requests, errors }));
}
