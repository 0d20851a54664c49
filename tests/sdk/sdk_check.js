// Drives dispatchd with the official ExH JavaScript SDK, unchanged: every dispatcher call of docs/api.md,
// typed errors, paging with findAll, and events.create leading to a task and a mail readable back.
// Usage: node sdk_check.js http://localhost:PORT   (exits non-zero on the first failed check)
'use strict';
const assert = require('assert/strict');
const exh = require('@extrahorizon/javascript-sdk');

const host = process.argv[2];
const sdk = exh.createProxyClient({ host });
const rql = exh.rqlBuilder;

function step(name) {
  process.stdout.write(`- ${name}\n`);
}

async function rejects(promise, errorClass, what) {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof errorClass,
              `${what}: expected ${errorClass.name}, got ${err && err.constructor.name}: ${err.message}`);
    return err;
  }
  assert.fail(`${what}: expected ${errorClass.name}, but the call succeeded`);
}

async function eventually(what, probe, seconds = 20) {
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) assert.fail(`${what}: not seen within ${seconds} s`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function dispatcherCalls() {
  step('dispatchers.create with a task and a mail action');
  const start = new Date(Date.now() + 3600 * 1000);
  const created = await sdk.dispatchers.create({
    eventType: 'user_created',
    name: 'welcome',
    description: 'greets new users',
    tags: ['onboarding'],
    actions: [
      {
        type: 'task', name: 'welcome-task', functionName: 'sendWelcome',
        data: { camelKey: 1, snake_key: 'kept', Nested: { innerKey: true } },
        tags: ['t1'], startTimestamp: start,
      },
      { type: 'mail', name: 'welcome-mail', recipients: { to: ['new@example.com'], cc: ['cc@example.com'] },
        templateId: '5f0c8a3b2c1d4e5f6a7b8c9d' },
    ],
  });
  assert.match(created.id, /^[0-9a-f]{24}$/);
  assert.equal(created.eventType, 'user_created');
  assert.equal(created.actions.length, 2);
  const [task, mail] = created.actions;
  assert.match(task.id, /^[0-9a-f]{24}$/);
  assert.deepEqual(task.data, { camelKey: 1, snake_key: 'kept', Nested: { innerKey: true } });
  assert.equal(mail.templateId, '5f0c8a3b2c1d4e5f6a7b8c9d');
  // The SDK turns `*Timestamp` fields (epoch ms on the wire) into Dates.
  assert.ok(created.creationTimestamp instanceof Date, 'creationTimestamp is a Date');
  assert.ok(Math.abs(created.creationTimestamp.getTime() - Date.now()) < 60000);

  step('dispatchers.findById / findFirst / find with select and sort');
  const byId = await sdk.dispatchers.findById(created.id);
  assert.equal(byId.name, 'welcome');
  assert.deepEqual(byId.actions[0].data, task.data);
  assert.equal(new Date(byId.actions[0].startTimestamp).getTime(), start.getTime());
  const first = await sdk.dispatchers.findFirst({ rql: rql().eq('name', 'welcome').build() });
  assert.equal(first.id, created.id);
  const selected = await sdk.dispatchers.find({ rql: rql().select(['name']).eq('id', created.id).build() });
  assert.deepEqual(Object.keys(selected.data[0]).sort(), ['id', 'name']);
  assert.equal(await sdk.dispatchers.findById('0123456789abcdef01234567'), undefined);

  step('dispatchers.update and actions create / update / remove');
  assert.deepEqual(await sdk.dispatchers.update(created.id, { description: 'changed' }), { affectedRecords: 1 });
  const added = await sdk.dispatchers.actions.create(created.id, {
    type: 'task', name: 'audit', functionName: 'audit', data: { keep_me: 'x' },
  });
  assert.match(added.id, /^[0-9a-f]{24}$/);
  assert.deepEqual(added.data, { keep_me: 'x' });
  assert.deepEqual(await sdk.dispatchers.actions.update(created.id, added.id, { functionName: 'audit2' }),
                   { affectedRecords: 1 });
  let current = await sdk.dispatchers.findById(created.id);
  assert.equal(current.description, 'changed');
  assert.equal(current.actions.find((a) => a.id === added.id).functionName, 'audit2');
  assert.deepEqual(await sdk.dispatchers.actions.remove(created.id, added.id), { affectedRecords: 1 });
  current = await sdk.dispatchers.findById(created.id);
  assert.equal(current.actions.length, 2);

  step('typed errors chosen by code');
  await rejects(sdk.dispatchers.create({ name: 'no type' }), exh.MissingRequiredFieldsError, 'missing eventType');
  await rejects(sdk.dispatchers.create({ eventType: 'x', name: 'welcome' }), exh.ResourceAlreadyExistsError,
                'duplicate name');
  await rejects(sdk.dispatchers.update('0123456789abcdef01234567', { name: 'x' }), exh.ResourceUnknownError,
                'unknown dispatcher');
  await rejects(sdk.dispatchers.remove('not-an-id'), exh.IDFormatError, 'malformed id');
  await rejects(sdk.dispatchers.find({ rql: '?eq(name' }), exh.InvalidRqlError, 'malformed RQL');
  await rejects(sdk.dispatchers.actions.create(created.id, { type: 'mail', templateId: 'x' }),
                exh.MissingRequiredFieldsError, 'mail action without recipients');
  return created;
}

async function paging() {
  step('55 dispatchers: find pages by 50, findAll gets all');
  for (let i = 0; i < 55; ++i)
    await sdk.dispatchers.create({ eventType: 'paging', name: `page-${String(i).padStart(2, '0')}` });
  const filter = rql().eq('eventType', 'paging');
  const page1 = await sdk.dispatchers.find({ rql: filter.limit(50).sort('name').build() });
  assert.deepEqual(page1.page, { total: 55, offset: 0, limit: 50 });
  assert.equal(page1.data.length, 50);
  assert.equal(page1.data[0].name, 'page-00');
  const page2 = await sdk.dispatchers.find({ rql: rql().eq('eventType', 'paging').limit(50, 50).build() });
  assert.equal(page2.data.length, 5);
  const all = await sdk.dispatchers.findAll({ rql: rql().eq('eventType', 'paging').build() });
  assert.equal(all.length, 55);
  const descending = await sdk.dispatchers.find({ rql: rql().eq('eventType', 'paging').sort('-name').build() });
  assert.equal(descending.data[0].name, 'page-54');
  assert.equal(descending.page.limit, 20);
}

async function eventsToTasksAndMails(dispatcher) {
  step('events.create leads to the task and the mail');
  const event = await sdk.events.create({ type: 'user_created', content: { userId: 'u-1', name: 'Zoë' } });
  assert.match(event.id, /^[0-9a-f]{24}$/);
  assert.equal(event.type, 'user_created');
  const tasks = await eventually('the task', async () => {
    const found = await sdk.tasks.find({ rql: rql().eq('functionName', 'sendWelcome').build() });
    return found.data.length > 0 && found;
  });
  assert.equal(tasks.data.length, 1);
  const task = tasks.data[0];
  assert.equal(task.data.camelKey, 1);
  assert.equal(task.data.snake_key, 'kept');
  assert.equal(task.data.event.id, event.id);
  assert.equal(task.data.event.type, 'user_created');
  assert.ok(task.startTimestamp, 'the task keeps its startTimestamp');
  const mails = await eventually('the mail', async () => {
    const found = await sdk.mails.find({ rql: rql().eq('templateId', '5f0c8a3b2c1d4e5f6a7b8c9d').build() });
    return found.data.length > 0 && found;
  });
  assert.equal(mails.data.length, 1);
  assert.equal(mails.data[0].content.event.id, event.id);
  assert.deepEqual(mails.data[0].recipients.to, ['new@example.com']);

  step('a duplicate event id is answered with the first event and not dispatched again');
  const again = await sdk.events.create({ id: event.id, type: 'user_created', content: { other: 1 } });
  assert.equal(again.id, event.id);
  assert.equal(new Date(again.creationTimestamp).getTime(), new Date(event.creationTimestamp).getTime());
  await new Promise((resolve) => setTimeout(resolve, 500));
  const still = await sdk.tasks.find({ rql: rql().eq('functionName', 'sendWelcome').build() });
  assert.equal(still.data.length, 1);

  step('dispatchers.remove');
  assert.deepEqual(await sdk.dispatchers.remove(dispatcher.id), { affectedRecords: 1 });
  assert.equal(await sdk.dispatchers.findById(dispatcher.id), undefined);
}

(async () => {
  const dispatcher = await dispatcherCalls();
  await paging();
  await eventsToTasksAndMails(dispatcher);
  process.stdout.write('all SDK checks passed\n');
})().catch((err) => {
  process.stderr.write(`SDK check failed: ${err && err.stack ? err.stack : err}\n`);
  process.exit(1);
});
