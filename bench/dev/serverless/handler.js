// The chat backend of chatctl (handler/) rewritten as Node Lambda handlers for serverless-offline,
// so that the same load can be compared against `chatctl dev`. Same protocol (DESIGN §2): an
// in-memory registry (serverless-offline runs with useInProcess, so every function shares this
// module), replies in the response body, other connections reached through @connections.
'use strict';

const NAME = /^[A-Za-z0-9_-]{1,32}$/;
const MAX_TEXT = 4096;
const CALLBACK = `http://127.0.0.1:${process.env.WS_PORT || 3001}/@connections/`;

const nameOf = new Map(); // connection id → name
const byName = new Map(); // name → Set of connection ids
let sequence = 0;

const reply = (frame) => ({ statusCode: 200, body: JSON.stringify(frame) });
const error = (code, message) => reply({ type: 'error', code, message });

function forget(id) {
  const name = nameOf.get(id);
  if (name === undefined) return;
  nameOf.delete(id);
  const ids = byName.get(name);
  ids.delete(id);
  if (ids.size === 0) byName.delete(name);
}

exports.connect = async (event) => {
  const name = (event.queryStringParameters || {}).name;
  if (typeof name !== 'string' || !NAME.test(name)) {
    return { statusCode: 400, body: JSON.stringify({ type: 'error', code: 'bad_request', message: 'name must be 1-32 of [A-Za-z0-9_-]' }) };
  }
  const id = event.requestContext.connectionId;
  nameOf.set(id, name);
  if (!byName.has(name)) byName.set(name, new Set());
  byName.get(name).add(id);
  return { statusCode: 204 };
};

exports.disconnect = async (event) => {
  forget(event.requestContext.connectionId);
  return { statusCode: 204 };
};

exports.who = async () => reply({ type: 'who', users: [...byName.keys()].sort() });

exports.sendmessage = async (event) => {
  const from = nameOf.get(event.requestContext.connectionId);
  if (from === undefined) return error('bad_request', 'this connection has not joined');
  let message;
  try {
    message = JSON.parse(event.body);
  } catch {
    return error('bad_request', 'the message is not JSON');
  }
  const { to, text } = message;
  if (typeof to !== 'string' || typeof text !== 'string' || text.length === 0) {
    return error('bad_request', 'sendmessage needs string fields to and text');
  }
  if ([...text].length > MAX_TEXT) return error('too_large', `text is longer than ${MAX_TEXT} characters`);
  const targets = [...(byName.get(to) || [])];
  if (targets.length === 0) return error('peer_offline', `${to} is not online`);
  sequence += 1;
  const id = `${Date.now().toString(36)}-${sequence}`;
  const frame = JSON.stringify({ type: 'message', id, from, text, at: new Date().toISOString() });
  await Promise.all(targets.map(async (target) => {
    const response = await fetch(CALLBACK + encodeURIComponent(target), { method: 'POST', body: frame });
    if (response.status === 410) forget(target);
  }));
  return reply({ type: 'sent', id, to });
};

exports.default = async (event) => {
  let message;
  try {
    message = JSON.parse(event.body);
  } catch {
    return error('bad_request', 'the message is not JSON');
  }
  if (message === null || typeof message !== 'object' || Array.isArray(message)) {
    return error('bad_request', 'the message is not a JSON object');
  }
  return error('unknown_action', `unknown action ${JSON.stringify(message.action)}`);
};
