// The dispatchd console. Plain JavaScript, no framework, no build step: it talks to the public
// HTTP API of the node that served it (docs/api.md), with the bearer token the user gave for this
// tab. Data from the server is always put into the page as text, never as HTML.
'use strict';

(() => {
  // ---------------------------------------------------------------- small DOM helpers

  const $ = (selector, root = document) => root.querySelector(selector);
  const $$ = (selector, root = document) => Array.from(root.querySelectorAll(selector));

  // el('td', {class: 'num'}, 'text', childNode...): attributes starting with "on" are listeners.
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
      else if (key === 'text') node.textContent = value;
      else node.setAttribute(key, value === true ? '' : String(value));
    }
    for (const child of children.flat(Infinity)) {
      if (child === undefined || child === null || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  const show = (node, visible) => { node.hidden = !visible; };

  function formatTime(ms) {
    if (ms === undefined || ms === null) return '';
    const d = new Date(ms);
    const pad = (n, w = 2) => String(n).padStart(w, '0');
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
      `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  }

  function formatAgo(ms) {
    if (!ms) return '';
    const seconds = Math.round((Date.now() - ms) / 1000);
    const future = seconds < 0;
    let n = Math.abs(seconds);
    let unit = 's';
    if (n >= 86400) { n = Math.round(n / 86400); unit = 'd'; }
    else if (n >= 3600) { n = Math.round(n / 3600); unit = 'h'; }
    else if (n >= 60) { n = Math.round(n / 60); unit = 'min'; }
    return future ? `in ${n} ${unit}` : `${n} ${unit} ago`;
  }

  function formatNumber(value, digits = 1) {
    if (value === null || value === undefined || Number.isNaN(value)) return '–';
    if (Math.abs(value) >= 1000) return Math.round(value).toLocaleString('en-US');
    if (Number.isInteger(value)) return String(value);
    return value.toFixed(digits);
  }

  // A datetime-local value (local time) as epoch ms; undefined when empty.
  function epochOf(localValue) {
    if (!localValue) return undefined;
    const ms = new Date(localValue).getTime();
    return Number.isNaN(ms) ? undefined : ms;
  }

  function localValueOf(ms) {
    const d = new Date(ms - new Date(ms).getTimezoneOffset() * 60000);
    return d.toISOString().slice(0, 19);
  }

  // An RQL value: the API decodes the query once as a whole and each value once more, so a value
  // with characters of the grammar is encoded twice.
  function rqlValue(text) {
    return encodeURIComponent(encodeURIComponent(String(text)));
  }

  const splitList = (text) => String(text || '').split(',').map((s) => s.trim()).filter(Boolean);

  // ---------------------------------------------------------------- the API client

  class ApiError extends Error {
    constructor(status, code, message, body) {
      super(message);
      this.status = status;
      this.code = code;
      this.body = body;
    }
  }

  const tokenKey = 'dispatchd.console.token';
  const api = {
    token: sessionStorage.getItem(tokenKey) || '',

    async call(method, path, body, options = {}) {
      const headers = { Accept: 'application/json' };
      if (body !== undefined) headers['Content-Type'] = 'application/json';
      if (this.token) headers.Authorization = `Bearer ${this.token}`;
      let res;
      try {
        res = await fetch(path, {
          method, headers, signal: options.signal,
          body: body === undefined ? undefined : JSON.stringify(body),
        });
      } catch (err) {
        if (err.name === 'AbortError') throw err;
        throw new ApiError(0, 0, `The server did not answer (${err.message}). Is dispatchd still ` +
          'running at this address? The page retries on its own.');
      }
      const text = await res.text();
      let json = null;
      if ((res.headers.get('Content-Type') || '').includes('json')) {
        try { json = JSON.parse(text); } catch (_) { json = null; }
      }
      if (res.status === 401) {
        tokenPrompt.open(this.token ? 'The token was refused: enter another one.' : '');
        throw new ApiError(401, 10, 'This server needs a bearer token: enter one in the dialog ' +
          '(one of dispatch.http.tokens).', json);
      }
      if (!res.ok) {
        const message = (json && json.message) || text.trim() || res.statusText;
        throw new ApiError(res.status, json && json.code, explain(res.status, message), json);
      }
      return json !== null ? json : text;
    },
    get(path, options) { return this.call('GET', path, undefined, options); },
  };

  // An error message a person can act on: the API's own message, with what to do for the
  // statuses that are not about the input.
  function explain(status, message) {
    if (status === 503) return `${message} — the node is busy or a member is away; try again in a moment.`;
    if (status >= 500) return `${message} — the node's log (stderr) has the detail.`;
    if (status === 413) return `${message} — send less at once.`;
    return message;
  }

  function messageOf(err) {
    return err instanceof ApiError ? err.message : `Unexpected: ${err && err.message}`;
  }

  // ---------------------------------------------------------------- the token dialog

  const tokenPrompt = {
    waiting: [],
    open(reason) {
      const dialog = $('#token-dialog');
      const error = $('#token-error');
      error.textContent = reason || '';
      show(error, Boolean(reason));
      if (!dialog.open) {
        dialog.showModal();
        $('#token-input').value = '';
        $('#token-input').focus();
      }
    },
    init() {
      $('#token-form').addEventListener('submit', (event) => {
        const value = $('#token-input').value.trim();
        if (!value) { event.preventDefault(); return; }
        api.token = value;
        sessionStorage.setItem(tokenKey, value);
        show($('#token-button'), true);
        // The dialog closes (method=dialog); everything shown is asked for again with it.
        setTimeout(() => router.refresh(), 0);
      });
      $('#token-dialog').addEventListener('cancel', (event) => event.preventDefault());
      $('#token-button').addEventListener('click', () => tokenPrompt.open(''));
      show($('#token-button'), Boolean(api.token));
    },
  };

  // ---------------------------------------------------------------- confirmation

  function confirmAction(title, text, okLabel) {
    const dialog = $('#confirm-dialog');
    $('#confirm-title').textContent = title;
    $('#confirm-text').textContent = text;
    $('#confirm-ok').textContent = okLabel || 'Confirm';
    return new Promise((resolve) => {
      dialog.addEventListener('close', () => resolve(dialog.returnValue === 'ok'), { once: true });
      dialog.returnValue = '';
      dialog.showModal();
      $('#confirm-ok').focus();
    });
  }

  // ---------------------------------------------------------------- field errors

  // Shows an API error beside the field it names (`actions[1].recipients.to[0]: not an email
  // address` goes beside actions[1].recipients.to), or at the top of the form. `prefix` places the
  // errors of a call about one action (whose messages name its own fields) under that action.
  function showFieldError(form, err, prefix = '') {
    const message = messageOf(err);
    const match = /^([A-Za-z0-9_$.[\]-]+): /.exec(message);
    let target = null;
    if (match) {
      let path = prefix + match[1];
      while (path && !target) {
        target = form.querySelector(`[data-error-for="${CSS.escape(path)}"]`);
        if (target) break;
        const shorter = path.replace(/\[\d+\]$/, '') !== path
          ? path.replace(/\[\d+\]$/, '') : path.replace(/\.?[^.[\]]*$/, '');
        if (shorter === path) break;
        path = shorter;
      }
    }
    if (!target) target = form.querySelector('[data-error-for=""]');
    target.textContent = message;
    show(target, true);
    const field = form.querySelector(`[data-field="${CSS.escape(target.dataset.errorFor)}"]`);
    if (field) {
      field.setAttribute('aria-invalid', 'true');
      field.setAttribute('aria-describedby', target.id || (target.id = `error-${Math.random().toString(36).slice(2)}`));
      field.focus();
    } else {
      target.scrollIntoView({ block: 'nearest' });
    }
  }

  function clearFieldErrors(form) {
    for (const p of $$('[data-error-for]', form)) { p.textContent = ''; show(p, false); }
    for (const f of $$('[aria-invalid]', form)) f.removeAttribute('aria-invalid');
  }

  // ---------------------------------------------------------------- listings

  // A listing that loads without blocking the page: a newer load aborts the one in flight, the
  // old rows stay (dimmed) until the new ones come, and errors are shown in its place.
  class Listing {
    constructor(container, render) {
      this.container = container;
      this.render = render;
      this.controller = null;
      this.busy = false;
    }
    async load(path) {
      if (this.controller) this.controller.abort();
      const controller = new AbortController();
      this.controller = controller;
      this.busy = true;
      this.container.classList.add('loading');
      if (!this.container.firstChild) this.container.append(el('p', { class: 'state', text: 'Loading…' }));
      try {
        const answer = await api.get(path, { signal: controller.signal });
        if (controller !== this.controller) return;
        this.container.replaceChildren(...[this.render(answer)].flat());
      } catch (err) {
        if (err.name === 'AbortError' || controller !== this.controller) return;
        this.container.replaceChildren(el('p', { class: 'error', role: 'alert', text: messageOf(err) }));
      } finally {
        if (controller === this.controller) {
          this.busy = false;
          this.controller = null;
          this.container.classList.remove('loading');
        }
      }
    }
  }

  function pager(page, onPage) {
    const { total = 0, offset = 0, limit = 20 } = page || {};
    const last = Math.min(offset + limit, total);
    return el('div', { class: 'pager' },
      total ? `${offset + 1}–${last} of ${total}` : 'none',
      el('button', { type: 'button', class: 'small', disabled: offset <= 0, onclick: () => onPage(Math.max(0, offset - limit)) }, '← Previous'),
      el('button', { type: 'button', class: 'small', disabled: last >= total, onclick: () => onPage(offset + limit) }, 'Next →'));
  }

  function table(headers, rows) {
    return el('table', {},
      el('thead', {}, el('tr', {}, headers.map((h) => el('th', { class: h.endsWith('#') ? 'num' : null, scope: 'col' }, h.replace(/#$/, ''))))),
      el('tbody', {}, rows));
  }

  const badge = (text) => el('span', { class: `badge ${text}` }, text);

  // ---------------------------------------------------------------- health (every view)

  const health = {
    async poll() {
      const node = $('#health');
      try {
        const res = await fetch('/health', { headers: { Accept: 'application/json' } });
        const body = await res.json().catch(() => ({}));
        if (res.ok) {
          node.textContent = 'health: ok';
          node.className = 'health ok';
          node.title = 'the engine answers and storage takes writes';
        } else {
          node.textContent = `health: ${body.status || res.status}`;
          node.className = 'health bad';
          node.title = body.message || '';
        }
      } catch (err) {
        node.textContent = 'health: no answer';
        node.className = 'health bad';
        node.title = 'the node did not answer /health';
      }
    },
  };

  // ---------------------------------------------------------------- overview: metrics and charts

  // Prometheus text → Map("name{labels}" → number).
  function parseMetrics(text) {
    const values = new Map();
    for (const line of text.split('\n')) {
      if (!line || line.startsWith('#')) continue;
      const m = /^([A-Za-z_:][\w:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
      if (m) values.set(m[1] + (m[2] || ''), Number(m[3]));
    }
    return values;
  }

  // The histogram's cumulative buckets as [[upper bound, count]...], sorted.
  function bucketsOf(values, name) {
    const out = [];
    for (const [key, value] of values) {
      const m = new RegExp(`^${name}_bucket\\{le="([^"]+)"\\}$`).exec(key);
      if (m) out.push([m[1] === '+Inf' ? Infinity : Number(m[1]), value]);
    }
    return out.sort((a, b) => a[0] - b[0]);
  }

  // A quantile of the observations between two snapshots of a histogram, interpolated linearly
  // within its bucket (as Prometheus' histogram_quantile does); null without observations.
  function quantile(q, before, after) {
    if (!before.length || before.length !== after.length) return null;
    const counts = after.map(([le, n], i) => [le, n - before[i][1]]);
    const total = counts[counts.length - 1][1];
    if (total <= 0) return null;
    const rank = q * total;
    for (let i = 0; i < counts.length; i++) {
      const [le, cumulative] = counts[i];
      if (cumulative >= rank) {
        const lower = i === 0 ? 0 : counts[i - 1][0];
        const below = i === 0 ? 0 : counts[i - 1][1];
        if (le === Infinity) return lower;
        const inBucket = cumulative - below;
        return lower + (le - lower) * (inBucket ? (rank - below) / inBucket : 1);
      }
    }
    return null;
  }

  const keep = 150; // samples: 5 minutes at one every 2 s
  const metrics = {
    previous: null, // {t, values}
    series: {
      events: { lines: [['accepted', '#2557d6'], ['duplicate', '#8a6fd1'], ['rejected', '#b3261e']], points: [] },
      deliveries: { lines: [['delivered', '#1b7f3b'], ['retry', '#a86400'], ['dead', '#b3261e']], points: [] },
      queues: { lines: [['inbox', '#2557d6'], ['pending', '#a86400'], ['in flight', '#1b7f3b']], points: [] },
      latency: { lines: [['p50', '#1b7f3b'], ['p90', '#2557d6'], ['p99', '#b3261e']], points: [] },
    },
    latest: null,

    async poll() {
      let text;
      try {
        text = await api.get('/metrics');
        show($('#metrics-error'), false);
      } catch (err) {
        $('#metrics-error').textContent = `The metrics could not be read: ${messageOf(err)}`;
        show($('#metrics-error'), true);
        return;
      }
      const now = Date.now();
      const values = parseMetrics(String(text));
      const prev = this.previous;
      this.previous = { t: now, values };
      this.latest = values;
      if (prev) {
        const dt = (now - prev.t) / 1000;
        const rate = (key) => {
          const a = prev.values.get(key);
          const b = values.get(key);
          if (a === undefined || b === undefined || b < a || dt <= 0) return null;
          return (b - a) / dt;
        };
        const push = (name, row) => {
          const points = this.series[name].points;
          points.push({ t: now, v: row });
          while (points.length > keep) points.shift();
        };
        push('events', ['accepted', 'duplicate', 'rejected'].map((r) => rate(`dispatch_events_total{result="${r}"}`)));
        push('deliveries', ['delivered', 'retry', 'dead'].map((o) => rate(`dispatch_delivery_outcomes_total{outcome="${o}"}`)));
        push('queues', ['inbox', 'pending', 'in_flight'].map((q) => values.get(`dispatch_queue_depth{queue="${q}"}`) ?? null));
        const before = bucketsOf(prev.values, 'dispatch_delivery_latency_seconds');
        const after = bucketsOf(values, 'dispatch_delivery_latency_seconds');
        push('latency', [0.5, 0.9, 0.99].map((q) => {
          const s = quantile(q, before, after);
          return s === null ? null : s * 1000;
        }));
      }
      if (router.current === 'overview') this.draw();
    },

    draw() {
      this.drawTiles();
      for (const canvas of $$('canvas[data-chart]')) drawChart(canvas, this.series[canvas.dataset.chart]);
    },

    drawTiles() {
      const v = this.latest;
      if (!v) return;
      const last = (name, i) => {
        const points = this.series[name].points;
        return points.length ? points[points.length - 1].v[i] : null;
      };
      const tiles = [
        ['Events/s', formatNumber(last('events', 0))],
        ['Delivered/s', formatNumber(last('deliveries', 0))],
        ['Retries (total)', formatNumber(v.get('dispatch_delivery_outcomes_total{outcome="retry"}'))],
        ['Dead letters (total)', formatNumber(v.get('dispatch_dead_letters_total')), v.get('dispatch_dead_letters_total') > 0 ? 'bad' : ''],
        ['Pending', formatNumber(v.get('dispatch_queue_depth{queue="pending"}'))],
        ['In flight', formatNumber(v.get('dispatch_queue_depth{queue="in_flight"}'))],
        ['Latency p99 (ms)', formatNumber(last('latency', 2))],
        ['Events accepted (total)', formatNumber(v.get('dispatch_events_total{result="accepted"}'))],
      ];
      $('#tiles').replaceChildren(...tiles.map(([label, value, tone]) =>
        el('div', { class: 'tile' }, el('div', { class: 'label' }, label), el('div', { class: `value ${tone || ''}` }, value))));
    },
  };

  // A line chart of our own on a canvas: time on x (the last 5 minutes), one line per series,
  // gaps where a value is unknown, a legend with the latest values.
  function drawChart(canvas, series) {
    const ratio = window.devicePixelRatio || 1;
    const width = canvas.clientWidth;
    const height = canvas.clientHeight;
    if (!width || !height) return;
    canvas.width = Math.round(width * ratio);
    canvas.height = Math.round(height * ratio);
    const g = canvas.getContext('2d');
    g.setTransform(ratio, 0, 0, ratio, 0, 0);
    g.clearRect(0, 0, width, height);
    g.font = '12px system-ui, sans-serif';
    const left = 52;
    const right = 10;
    const top = 24;
    const bottom = 22;
    const plotW = width - left - right;
    const plotH = height - top - bottom;
    const now = Date.now();
    const span = keep * 2000;
    const points = series.points.filter((p) => p.t >= now - span);
    let max = 0;
    for (const p of points) for (const v of p.v) if (v !== null && v > max) max = v;
    const step = niceStep(max / 4 || 1);
    const yMax = Math.max(step * 4, step * Math.ceil(max / step));
    // Grid and y labels.
    g.strokeStyle = '#e4e7ee';
    g.fillStyle = '#5b6475';
    g.lineWidth = 1;
    g.textAlign = 'right';
    g.textBaseline = 'middle';
    for (let y = 0; y <= yMax + 1e-9; y += step) {
      const py = top + plotH - (y / yMax) * plotH;
      g.beginPath(); g.moveTo(left, py); g.lineTo(left + plotW, py); g.stroke();
      g.fillText(formatNumber(y, step < 1 ? 2 : 0), left - 6, py);
    }
    // Time labels: minutes ago.
    g.textAlign = 'center';
    g.textBaseline = 'top';
    for (let m = 0; m <= 5; m++) {
      const px = left + plotW - (m * 60000 / span) * plotW;
      // The outermost labels stay inside the canvas.
      g.textAlign = m === 0 ? 'right' : (m === 5 ? 'left' : 'center');
      g.fillText(m ? `-${m} min` : 'now', px, top + plotH + 5);
    }
    const xOf = (t) => left + plotW - ((now - t) / span) * plotW;
    const yOf = (v) => top + plotH - (v / yMax) * plotH;
    series.lines.forEach(([, color], i) => {
      g.strokeStyle = color;
      g.lineWidth = 2;
      g.beginPath();
      let drawing = false;
      for (const p of points) {
        const v = p.v[i];
        if (v === null || v === undefined) { drawing = false; continue; }
        if (drawing) g.lineTo(xOf(p.t), yOf(v)); else g.moveTo(xOf(p.t), yOf(v));
        drawing = true;
      }
      g.stroke();
    });
    // Legend with the latest value of each line.
    g.textAlign = 'left';
    g.textBaseline = 'middle';
    let x = left;
    const latest = points.length ? points[points.length - 1].v : [];
    series.lines.forEach(([name, color], i) => {
      const label = `${name} ${formatNumber(latest[i] ?? null)}`;
      g.fillStyle = color;
      g.fillRect(x, 7, 12, 4);
      g.fillStyle = '#1d2330';
      g.fillText(label, x + 16, 9);
      x += g.measureText(label).width + 34;
    });
    if (!points.length) {
      g.fillStyle = '#5b6475';
      g.textAlign = 'center';
      g.fillText('waiting for a second sample…', left + plotW / 2, top + plotH / 2);
    }
  }

  function niceStep(raw) {
    const power = Math.pow(10, Math.floor(Math.log10(raw)));
    for (const f of [1, 2, 2.5, 5, 10]) if (raw <= f * power) return f * power;
    return 10 * power;
  }

  // ---------------------------------------------------------------- dispatchers

  // A dispatcher's own input (its actions have inputs of the same names, e.g. `name`).
  const top = (form, field) => form.querySelector(`[data-field="${field}"]`);

  const dispatchers = {
    offset: 0,
    editing: null, // the dispatcher being edited, as loaded; null for a new one
    listing: null,

    init() {
      this.listing = new Listing($('#dispatcher-list'), (answer) => this.renderList(answer));
      $('#dispatcher-search').addEventListener('submit', (e) => { e.preventDefault(); this.offset = 0; this.load(); });
      $('#dispatcher-new').addEventListener('click', () => this.edit(null));
      $('#dispatcher-cancel').addEventListener('click', () => this.close());
      $('#add-task').addEventListener('click', () => this.addAction({ type: 'task' }, true));
      $('#add-mail').addEventListener('click', () => this.addAction({ type: 'mail' }, true));
      $('#dispatcher-form').addEventListener('submit', (e) => { e.preventDefault(); this.save(); });
    },

    query() {
      const text = $('#dispatcher-query').value.trim();
      const terms = [];
      if (text.includes('(')) terms.push(text);
      else if (text) terms.push(`or(like(name,${rqlValue(text)}),like(eventType,${rqlValue(text)}))`);
      terms.push('sort(-updateTimestamp)', `limit(20,${this.offset})`);
      return terms.join('&');
    },

    load() { return this.listing.load(`/dispatchers/v1/?${this.query()}`); },

    renderList(answer) {
      const rows = (answer.data || []).map((d) => el('tr', {},
        el('td', {}, d.name || el('span', { class: 'hint' }, '(no name)'), el('div', { class: 'mono hint' }, d.id)),
        el('td', { class: 'mono' }, d.eventType),
        el('td', {}, (d.actions || []).map((a) => `${a.type}${a.name ? ` ${a.name}` : ''}`).join(', ') || '–'),
        el('td', { class: 'mono wrap' }, [d.filter, d.orderingKey && `key ${d.orderingKey}`, d.rateLimit && `${d.rateLimit.perSecond}/s`].filter(Boolean).join(' · ')),
        el('td', { title: formatTime(d.updateTimestamp) }, formatAgo(d.updateTimestamp)),
        el('td', { class: 'actions' },
          el('button', { type: 'button', class: 'small', 'aria-label': `Edit ${d.name || d.id}`, onclick: () => this.edit(d) }, 'Edit'),
          el('button', { type: 'button', class: 'small danger', 'aria-label': `Delete ${d.name || d.id}`, onclick: () => this.remove(d) }, 'Delete'))));
      if (!rows.length) return [el('p', { class: 'state', text: 'No dispatcher matches.' }), pager(answer.page, (o) => { this.offset = o; this.load(); })];
      return [table(['Name', 'Event type', 'Actions', 'Filter, ordering, rate', 'Updated', ''], rows),
        pager(answer.page, (o) => { this.offset = o; this.load(); })];
    },

    edit(d) {
      this.editing = d ? JSON.parse(JSON.stringify(d)) : null;
      const form = $('#dispatcher-form');
      form.reset();
      clearFieldErrors(form);
      show($('#dispatcher-notice'), false);
      $('#dispatcher-form-title').textContent = d ? `Edit ${d.name || d.id}` : 'New dispatcher';
      $('#dispatcher-save').textContent = d ? 'Save' : 'Create';
      if (d) {
        top(form, 'eventType').value = d.eventType || '';
        top(form, 'name').value = d.name || '';
        top(form, 'description').value = d.description || '';
        top(form, 'tags').value = (d.tags || []).join(', ');
        top(form, 'filter').value = d.filter || '';
        top(form, 'orderingKey').value = d.orderingKey || '';
        top(form, 'rateLimit.perSecond').value = d.rateLimit ? d.rateLimit.perSecond : '';
      }
      $('#action-list').replaceChildren();
      for (const a of (d && d.actions) || []) this.addAction(a, false);
      show($('#dispatcher-editor'), true);
      top(form, 'eventType').focus();
    },

    close() {
      show($('#dispatcher-editor'), false);
      this.editing = null;
    },

    addAction(a, focus) {
      const list = $('#action-list');
      const task = a.type === 'task';
      const box = el('fieldset', { class: 'action', 'data-type': a.type, 'data-id': a.id || '' });
      const field = (label, name, value, attrs = {}) => [
        el('label', {}, label, el(attrs.textarea ? 'textarea' : 'input', { name, value: attrs.textarea ? null : (value ?? ''), autocomplete: 'off', ...attrs.input })),
        el('p', { class: 'error', hidden: true }),
      ];
      const parts = [
        el('legend', {}, task ? 'Task action' : 'Mail action'),
        el('div', { class: 'fields' },
          field('Name', 'name', a.name),
          field('Description', 'description', a.description),
          task ? [
            field('Function name', 'functionName', a.functionName),
            field('Data (JSON object)', 'data', '', { textarea: true }),
            field('Tags', 'tags', (a.tags || []).join(', '), { input: { placeholder: 'comma separated' } }),
            field('Start time', 'startTimestamp', a.startTimestamp ? localValueOf(a.startTimestamp) : '', { input: { type: 'datetime-local', step: 1 } }),
            field('Priority', 'priority', a.priority, { input: { type: 'number', step: 1 } }),
            el('label', { class: 'check' }, 'Templated data', el('input', { type: 'checkbox', name: 'templated', checked: Boolean(a.templated) })),
            el('p', { class: 'error', hidden: true }),
          ] : [
            field('To', 'to', ((a.recipients && a.recipients.to) || []).join(', '), { input: { placeholder: 'comma separated emails' } }),
            field('Cc', 'cc', ((a.recipients && a.recipients.cc) || []).join(', ')),
            field('Bcc', 'bcc', ((a.recipients && a.recipients.bcc) || []).join(', ')),
            field('Template id', 'templateId', a.templateId, { input: { placeholder: '24 hex' } }),
          ]),
        el('div', { class: 'row end' }, el('button', { type: 'button', class: 'small danger', onclick: () => { box.remove(); this.numberActions(); } }, 'Remove action')),
      ];
      box.append(...parts.flat());
      if (task) $('textarea[name=data]', box).value = a.data ? JSON.stringify(a.data, null, 2) : '';
      list.append(box);
      this.numberActions();
      if (focus) (task ? $('[name=functionName]', box) : $('[name=to]', box)).focus();
    },

    // Gives each action's inputs the paths the API names in its errors (actions[1].functionName).
    numberActions() {
      $$('#action-list fieldset.action').forEach((box, i) => {
        box.dataset.index = i;
        $('legend', box).textContent = `Action ${i + 1}: ${box.dataset.type}`;
        const paths = { to: 'recipients.to', cc: 'recipients.cc', bcc: 'recipients.bcc' };
        for (const input of $$('input, textarea', box)) {
          const path = `actions[${i}].${paths[input.name] || input.name}`;
          input.dataset.field = path;
          const error = input.closest('label').nextElementSibling;
          if (error && error.classList.contains('error')) error.dataset.errorFor = path;
        }
      });
    },

    // The action of one fieldset as the API takes it; throws a field error for bad JSON data.
    readAction(box) {
      const value = (name) => { const i = $(`[name=${name}]`, box); return i ? i.value.trim() : ''; };
      const a = { type: box.dataset.type };
      if (value('name')) a.name = value('name');
      if (value('description')) a.description = value('description');
      if (a.type === 'task') {
        a.functionName = value('functionName');
        const data = value('data');
        if (data) {
          let parsed;
          try { parsed = JSON.parse(data); } catch (err) {
            throw new ApiError(400, 15, `actions[${box.dataset.index}].data: not valid JSON (${err.message})`);
          }
          if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed))
            throw new ApiError(400, 15, `actions[${box.dataset.index}].data: must be a JSON object`);
          a.data = parsed;
        }
        if (splitList(value('tags')).length) a.tags = splitList(value('tags'));
        if (value('startTimestamp')) a.startTimestamp = epochOf(value('startTimestamp'));
        if (value('priority') !== '') a.priority = Number(value('priority'));
        if ($('[name=templated]', box).checked) a.templated = true;
      } else {
        a.recipients = { to: splitList(value('to')) };
        if (splitList(value('cc')).length) a.recipients.cc = splitList(value('cc'));
        if (splitList(value('bcc')).length) a.recipients.bcc = splitList(value('bcc'));
        a.templateId = value('templateId');
      }
      return a;
    },

    readDispatcher() {
      const form = $('#dispatcher-form');
      const d = { eventType: top(form, 'eventType').value.trim() };
      for (const key of ['name', 'description', 'filter', 'orderingKey'])
        if (top(form, key).value.trim()) d[key] = top(form, key).value.trim();
      if (splitList(top(form, 'tags').value).length) d.tags = splitList(top(form, 'tags').value);
      if (top(form, 'rateLimit.perSecond').value !== '') d.rateLimit = { perSecond: Number(top(form, 'rateLimit.perSecond').value) };
      d.actions = $$('#action-list fieldset.action').map((box) => this.readAction(box));
      return d;
    },

    async save() {
      const form = $('#dispatcher-form');
      clearFieldErrors(form);
      show($('#dispatcher-notice'), false);
      const button = $('#dispatcher-save');
      button.disabled = true;
      try {
        const wanted = this.readDispatcher();
        const saved = this.editing ? await this.update(wanted) : await api.call('POST', '/dispatchers/v1/', wanted);
        if (saved === null) return; // an action's error is shown
        this.edit(saved);
        $('#dispatcher-notice').textContent = `Saved ${saved.name || saved.id} (${saved.actions.length} action${saved.actions.length === 1 ? '' : 's'}).`;
        show($('#dispatcher-notice'), true);
        this.load();
      } catch (err) {
        showFieldError(form, err);
      } finally {
        button.disabled = false;
      }
    },

    // Edits: the dispatcher's own fields with one PUT (only those changed), then each action
    // added, changed or removed with its own call. Answers the dispatcher as stored afterwards.
    async update(wanted) {
      const old = this.editing;
      const form = $('#dispatcher-form');
      const patch = {};
      const same = (a, b) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
      for (const key of ['eventType', 'name', 'description', 'tags', 'filter', 'orderingKey', 'rateLimit']) {
        if (same(wanted[key], old[key])) continue;
        if (wanted[key] !== undefined) patch[key] = wanted[key];
        else if (key === 'tags') patch.tags = [];
        else if (key === 'rateLimit') patch.rateLimit = null;
        else patch[key] = '';
      }
      if (Object.keys(patch).length) await api.call('PUT', `/dispatchers/v1/${old.id}`, patch);
      const boxes = $$('#action-list fieldset.action');
      const kept = new Set();
      for (const [i, box] of boxes.entries()) {
        const action = wanted.actions[i];
        const id = box.dataset.id;
        try {
          if (!id) {
            await api.call('POST', `/dispatchers/v1/${old.id}/actions`, action);
            continue;
          }
          kept.add(id);
          const before = old.actions.find((a) => a.id === id) || {};
          const change = {};
          for (const key of new Set([...Object.keys(action), ...Object.keys(before)])) {
            if (key === 'id' || key === 'type' || same(action[key], before[key])) continue;
            change[key] = action[key] !== undefined ? action[key] : (key === 'tags' ? [] : (key === 'templated' ? false : null));
          }
          if (Object.keys(change).length) await api.call('PUT', `/dispatchers/v1/${old.id}/actions/${id}`, change);
        } catch (err) {
          showFieldError(form, err, `actions[${i}].`);
          return null;
        }
      }
      for (const a of old.actions) if (!kept.has(a.id)) await api.call('DELETE', `/dispatchers/v1/${old.id}/actions/${a.id}`);
      return api.get(`/dispatchers/v1/${old.id}`);
    },

    async remove(d) {
      const ok = await confirmAction('Delete dispatcher', `Delete "${d.name || d.id}" (${d.eventType}, ${(d.actions || []).length} actions)? Events accepted from now on no longer reach its actions.`, 'Delete');
      if (!ok) return;
      try {
        await api.call('DELETE', `/dispatchers/v1/${d.id}`);
        if (this.editing && this.editing.id === d.id) this.close();
      } catch (err) {
        banner.show(`Deleting ${d.name || d.id} failed: ${messageOf(err)}`);
      }
      this.load();
    },
  };

  // ---------------------------------------------------------------- deliveries

  const waiting = new Set(['pending', 'held', 'retrying']); // statuses with a next attempt

  const deliveries = {
    offset: 0,
    open: new Set(), // ids whose details are shown
    listing: null,

    init() {
      this.listing = new Listing($('#delivery-list'), (answer) => this.renderList(answer));
      const form = $('#delivery-filter');
      form.addEventListener('submit', (e) => { e.preventDefault(); this.offset = 0; this.load(); });
      form.addEventListener('change', (e) => { if (e.target.name !== 'live' && e.target.tagName === 'SELECT') { this.offset = 0; this.load(); } });
      $('#replay-all').addEventListener('click', () => this.replayAll());
    },

    // The filter terms of the form (no sort, no limit), each value encoded for RQL.
    filterTerms(statusOverride) {
      const form = $('#delivery-filter');
      const terms = [];
      const status = statusOverride || form.status.value;
      if (status) terms.push(`eq(status,${status})`);
      if (form.type.value) terms.push(`eq(type,${form.type.value})`);
      if (form.eventId.value.trim()) terms.push(`eq(eventId,${rqlValue(form.eventId.value.trim())})`);
      const from = epochOf(form.from.value);
      const to = epochOf(form.to.value);
      if (from !== undefined) terms.push(`ge(creationTimestamp,epoch:${from})`);
      if (to !== undefined) terms.push(`lt(creationTimestamp,epoch:${to})`);
      if (form.rql.value.trim()) terms.push(form.rql.value.trim());
      return terms;
    },

    load() {
      const terms = this.filterTerms();
      $('#delivery-query').textContent = terms.length ? `GET /deliveries/v1/?${terms.join('&')}` : 'every delivery';
      const status = $('#delivery-filter').status.value;
      $('#replay-all').disabled = Boolean(status) && status !== 'dead';
      return this.listing.load(`/deliveries/v1/?${[...terms, 'sort(-creationTimestamp)', `limit(20,${this.offset})`].join('&')}`);
    },

    tick() {
      if ($('#delivery-filter').live.checked && !this.listing.busy) this.load();
    },

    renderList(answer) {
      const rows = [];
      for (const d of answer.data || []) {
        rows.push(el('tr', { 'data-id': d.id, 'data-status': d.status },
          el('td', { class: 'mono' }, el('button', { type: 'button', class: 'small', 'aria-expanded': String(this.open.has(d.id)), 'aria-label': `Details of ${d.id}`, onclick: () => { this.toggle(d.id); } }, this.open.has(d.id) ? '▾' : '▸'), ' ', d.id),
          el('td', {}, badge(d.status)),
          el('td', {}, d.type),
          el('td', { class: 'mono' }, d.eventType || ''),
          el('td', { class: 'num' }, d.attempts ?? ''),
          el('td', { class: 'wrap' }, d.lastError || ''),
          el('td', { title: formatTime(d.nextAttemptTimestamp) }, waiting.has(d.status) && d.nextAttemptTimestamp ? formatAgo(d.nextAttemptTimestamp) : ''),
          el('td', { title: formatTime(d.creationTimestamp) }, formatAgo(d.creationTimestamp)),
          el('td', { class: 'actions' },
            d.status === 'dead' ? el('button', { type: 'button', class: 'small', 'data-action': 'replay', onclick: () => this.replay(d) }, 'Replay') : null,
            el('button', { type: 'button', class: 'small danger', 'data-action': 'purge', onclick: () => this.purge(d) }, 'Purge'))));
        if (this.open.has(d.id))
          rows.push(el('tr', { class: 'details' }, el('td', { colspan: 9 }, el('pre', {}, JSON.stringify(d, null, 2)))));
      }
      const onPage = (o) => { this.offset = o; this.load(); };
      if (!rows.length) return [el('p', { class: 'state', text: 'No delivery matches this filter.' }), pager(answer.page, onPage)];
      return [table(['Delivery', 'Status', 'Type', 'Event type', 'Attempts#', 'Last error', 'Next attempt', 'Created', ''], rows), pager(answer.page, onPage)];
    },

    toggle(id) {
      if (this.open.has(id)) this.open.delete(id); else this.open.add(id);
      this.load();
    },

    say(text, isError) {
      const p = $('#delivery-message');
      p.textContent = text;
      p.className = isError ? 'error form-error' : 'notice';
      show(p, true);
    },

    async replay(d) {
      try {
        const again = await api.call('POST', `/deliveries/v1/${d.id}/replay`);
        this.say(`Delivery ${d.id} re-queued (status ${again.status}); it goes out again now.`);
      } catch (err) {
        this.say(`Replaying ${d.id} failed: ${messageOf(err)}`, true);
      }
      this.load();
    },

    async purge(d) {
      const ok = await confirmAction('Purge delivery', `Forget delivery ${d.id} (${d.status})? It will not be sent again and leaves every listing.`, 'Purge');
      if (!ok) return;
      try {
        await api.call('DELETE', `/deliveries/v1/${d.id}`);
        this.say(`Delivery ${d.id} purged.`);
      } catch (err) {
        this.say(`Purging ${d.id} failed: ${messageOf(err)}`, true);
      }
      this.load();
    },

    // Counts the dead letters of the current filter, asks, then replays them with one call.
    async replayAll() {
      const terms = this.filterTerms('dead');
      const filter = terms.filter((t) => !/^eq\(status,/.test(t)).concat('eq(status,dead)');
      let count;
      try {
        const page = await api.get(`/deliveries/v1/?${[...filter, 'select(id)', 'limit(1)'].join('&')}`);
        count = page.page.total;
      } catch (err) {
        this.say(`Counting the dead letters failed: ${messageOf(err)}`, true);
        return;
      }
      if (!count) { this.say('No dead letter matches this filter: nothing to replay.'); return; }
      const ok = await confirmAction('Replay dead letters', `Replay ${count} dead letter${count === 1 ? '' : 's'} matching ${filter.join('&')}? Each goes out again with a fresh budget.`, `Replay ${count}`);
      if (!ok) return;
      try {
        const answer = await api.call('POST', `/deliveries/v1/replay?${filter.join('&')}`);
        this.say(`${answer.affectedRecords} dead letter${answer.affectedRecords === 1 ? '' : 's'} re-queued.`);
      } catch (err) {
        this.say(`Replaying failed: ${messageOf(err)}`, true);
      }
      this.load();
    },
  };

  // ---------------------------------------------------------------- events and archive replays

  const events = {
    offset: 0,
    listing: null,
    replays: null,

    init() {
      this.listing = new Listing($('#event-list'), (answer) => this.renderList(answer));
      this.replays = new Listing($('#replay-list'), (answer) => this.renderReplays(answer));
      $('#event-search').addEventListener('submit', (e) => { e.preventDefault(); this.offset = 0; this.load(); });
      $('#replay-form').addEventListener('submit', (e) => { e.preventDefault(); this.startReplay(); });
      const form = $('#replay-form');
      form.from.value = localValueOf(Date.now() - 3600000);
      form.to.value = localValueOf(Date.now() + 60000);
    },

    load() {
      const form = $('#event-search');
      const terms = [];
      if (form.type.value.trim()) terms.push(`like(type,${rqlValue(form.type.value.trim())})`);
      if (form.id.value.trim()) terms.push(`eq(id,${rqlValue(form.id.value.trim())})`);
      if (form.rql.value.trim()) terms.push(form.rql.value.trim());
      this.listing.load(`/events/v1/?${[...terms, 'sort(-creationTimestamp)', `limit(20,${this.offset})`].join('&')}`);
      this.loadReplays();
    },

    // The newest replays with their progress.
    loadReplays() { return this.replays.load('/events/v1/replays/?limit(10)'); },

    // Follows the replays' progress, unless a load is still on its way.
    tick() {
      if (!this.replays.busy) this.loadReplays();
    },

    renderList(answer) {
      const rows = (answer.data || []).map((e) => el('tr', {},
        el('td', { class: 'mono' }, e.id),
        el('td', { class: 'mono' }, e.type, e.setAside ? [' ', el('span', { class: 'badge dead', title: e.setAside.reason }, 'set aside')] : null),
        el('td', { title: formatTime(e.creationTimestamp) }, formatAgo(e.creationTimestamp)),
        el('td', { class: 'mono wrap' }, truncate(JSON.stringify(e.content || {}), 160))));
      const onPage = (o) => { this.offset = o; this.load(); };
      if (!rows.length) return [el('p', { class: 'state', text: 'No event matches.' }), pager(answer.page, onPage)];
      return [table(['Id', 'Type', 'Accepted', 'Content'], rows), pager(answer.page, onPage)];
    },

    renderReplays(answer) {
      const rows = (answer.data || []).map((r) => {
        const share = r.matched ? Math.min(1, (r.dispatched || 0) / r.matched) : (r.status === 'done' ? 1 : 0);
        return el('tr', { 'data-id': r.id },
          el('td', { class: 'mono' }, r.id),
          el('td', {}, badge(r.status)),
          el('td', {}, `${formatTime(r.from)} → ${formatTime(r.to)}`),
          el('td', { class: 'num' }, `${r.dispatched ?? 0} / ${r.matched ?? 0}`),
          el('td', {}, progressBar(share)),
          el('td', { class: 'actions' }, r.status === 'running'
            ? el('button', { type: 'button', class: 'small danger', onclick: () => this.cancel(r) }, 'Cancel') : null));
      });
      if (!rows.length) return el('p', { class: 'state', text: 'No replay yet.' });
      return table(['Replay', 'Status', 'Events from → to', 'Dispatched#', 'Progress', ''], rows);
    },

    async startReplay() {
      const form = $('#replay-form');
      clearFieldErrors(form);
      const body = { from: epochOf(form.from.value), to: epochOf(form.to.value) };
      if (form.filter.value.trim()) body.filter = form.filter.value.trim();
      if (splitList(form.dispatcherIds.value).length) body.dispatcherIds = splitList(form.dispatcherIds.value);
      try {
        const replay = await api.call('POST', '/events/v1/replay', body);
        const p = form.querySelector('[data-error-for=""]');
        p.className = 'notice';
        p.textContent = `Replay ${replay.id} started: ${replay.matched ?? 0} events matched so far.`;
        show(p, true);
        this.loadReplays();
      } catch (err) {
        form.querySelector('[data-error-for=""]').className = 'error form-error';
        showFieldError(form, err);
      }
    },

    async cancel(r) {
      const ok = await confirmAction('Cancel replay', `Cancel replay ${r.id}? ${r.dispatched ?? 0} of ${r.matched ?? 0} events are dispatched; the rest will not be.`, 'Cancel replay');
      if (!ok) return;
      try { await api.call('DELETE', `/events/v1/replays/${r.id}`); } catch (err) { banner.show(`Cancelling ${r.id} failed: ${messageOf(err)}`); }
      this.loadReplays();
    },
  };

  // The page's policy forbids inline style attributes; a width set through the CSSOM is allowed.
  function progressBar(share) {
    const percent = Math.round(share * 100);
    const fill = el('span');
    fill.style.width = `${percent}%`;
    return el('span', { class: 'progress', role: 'progressbar', 'aria-valuemin': 0, 'aria-valuemax': 100, 'aria-valuenow': percent }, fill);
  }

  function truncate(text, n) { return text.length > n ? `${text.slice(0, n)}…` : text; }


  // ---------------------------------------------------------------- cluster

  const cluster = {
    listing: null,
    init() { this.listing = new Listing($('#cluster-body'), (c) => this.render(c)); },
    load() { return this.listing.load('/cluster/v1/'); },
    // Follows the members' states, unless a load is still on its way.
    tick() {
      if (!this.listing.busy) this.load();
    },
    render(c) {
      if (!c.node) {
        return [el('p', { class: 'unavailable' }, 'This node runs alone: dispatch.cluster.node is 0, so there are no members to show. ' +
          'docs/operations.md ("dispatch.cluster") says how to run a cluster.')];
      }
      const tiles = [
        ['This node', c.node],
        ['Coordinator', c.coordinator === c.node ? `${c.coordinator} · this node` : c.coordinator],
        ['Shards owned here', c.shardsOwned],
        ['Dispatcher log version', c.logVersion],
        ['Events forwarded', formatNumber(c.forwarded)],
        ['Events received', formatNumber(c.received)],
      ];
      const self = el('tr', { 'data-peer': c.node },
        el('td', { class: 'num' }, c.node, el('span', { class: 'hint' }, c.node === c.coordinator ? ' this node, coordinator' : ' this node')),
        el('td', { class: 'mono' }, '(this node)'), el('td', {}, badge('up')), el('td', {}, ''),
        el('td', { class: 'num' }, ''), el('td', { class: 'num' }, c.shardsOwned), el('td', {}, ''));
      const rows = [self].concat((c.peers || []).map((p) => el('tr', { 'data-peer': p.id },
        el('td', { class: 'num' }, p.id, p.id === c.coordinator ? el('span', { class: 'hint' }, ' coordinator') : null),
        el('td', { class: 'mono' }, p.address),
        el('td', {}, badge(p.state)),
        el('td', { title: formatTime(p.since) }, `${formatAgo(p.since)} (${formatTime(p.since)})`),
        el('td', { class: 'num' }, formatNumber(p.forwardDepth)),
        el('td', { class: 'num' }, p.shardsOwned),
        el('td', { class: 'wrap' }, p.reason || ''))));
      return [
        el('div', { class: 'tiles' }, tiles.map(([label, value]) => el('div', { class: 'tile' }, el('div', { class: 'label' }, label), el('div', { class: 'value' }, String(value))))),
        el('h2', {}, 'Members as this node sees them'),
        rows.length > 1 ? table(['Node#', 'Address', 'State', 'Since', 'Forward queue#', 'Shards#', 'Reason'], rows)
          : el('p', { class: 'state', text: 'No peers configured.' }),
      ];
    },
  };

  // ---------------------------------------------------------------- banner, router, timers

  const banner = {
    show(text) { const b = $('#banner'); b.textContent = text; show(b, true); setTimeout(() => show(b, false), 8000); },
  };

  const views = {
    overview: { enter: () => metrics.draw() },
    dispatchers: { enter: () => dispatchers.load() },
    deliveries: { enter: () => deliveries.load(), tick: () => deliveries.tick() },
    events: { enter: () => events.load(), tick: () => events.tick() },
    cluster: { enter: () => cluster.load(), tick: () => cluster.tick() },
  };

  const router = {
    current: null,
    go() {
      const name = (location.hash.match(/^#\/(\w+)/) || [])[1];
      const view = views[name] ? name : 'overview';
      this.current = view;
      for (const section of $$('.view')) show(section, section.dataset.view === view);
      for (const link of $$('[data-nav]')) {
        if (link.dataset.nav === view) link.setAttribute('aria-current', 'page'); else link.removeAttribute('aria-current');
      }
      document.title = `${view[0].toUpperCase()}${view.slice(1)} · dispatchd console`;
      views[view].enter();
    },
    refresh() { if (this.current) views[this.current].enter(); },
  };

  function start() {
    tokenPrompt.init();
    dispatchers.init();
    deliveries.init();
    events.init();
    cluster.init();
    window.addEventListener('hashchange', () => { router.go(); $('#main').focus({ preventScroll: true }); });
    window.addEventListener('resize', () => { if (router.current === 'overview') metrics.draw(); });
    router.go();
    // The overview's calls (/metrics from loopback, /health) may be open: ask for the token now if
    // the API needs one, not at the first click elsewhere.
    api.get('/dispatchers/v1/?select(id)&limit(1)').catch(() => {});
    health.poll();
    metrics.poll();
    setInterval(() => health.poll(), 5000);
    setInterval(() => metrics.poll(), 2000);
    setInterval(() => { const t = views[router.current].tick; if (t && !document.hidden) t(); }, 2500);
  }

  // For the browser test and the curious: the pieces that have no visible state of their own.
  window.dispatchConsole = { parseMetrics, quantile, bucketsOf };
  start();
})();
