import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IncomingMessage, ServerResponse } from 'node:http';
import { clientGoneSignal } from '../../src/http/lifecycle.js';
import { HearthError } from '../../src/errors.js';

// A response with no socket: nothing is sent, and its 'close' is the client going away before
// the response was complete (writableFinished false), as it is when a connection drops.
const response = () => new ServerResponse(new IncomingMessage(null as never));

test('every caller of one response gets the same signal, with one close listener between them', () => {
  const res = response();
  const before = res.listenerCount('close');
  const first = clientGoneSignal(res);
  assert.equal(clientGoneSignal(res), first);
  assert.equal(res.listenerCount('close'), before + 1);
  assert.notEqual(clientGoneSignal(response()), first);
});

test('the shared signal aborts once the client goes away, with a client_closed reason, for every caller', () => {
  const res = response();
  const guard = clientGoneSignal(res);
  const handler = clientGoneSignal(res);
  let aborts = 0;
  guard.addEventListener('abort', () => aborts++);
  handler.addEventListener('abort', () => aborts++);
  assert.equal(handler.aborted, false);
  res.emit('close');
  assert.equal(handler.aborted, true);
  assert.ok(handler.reason instanceof HearthError && handler.reason.code === 'client_closed');
  // Both listeners were on the one signal, which fired once.
  assert.equal(aborts, 2);
  assert.equal(clientGoneSignal(res).aborted, true);
});
