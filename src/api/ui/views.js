// One function per view; each renders into `el` and returns a cleanup function.
import { api } from './api.js';

const esc = (s) => String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
const pct = (p) => (p === null || p === undefined ? '–' : `${Math.round(p * 100)}%`);
const ago = (iso) => {
  if (!iso) return 'never';
  const s = Math.max(0, (Date.now() - Date.parse(iso)) / 1000);
  return s < 90
    ? `${Math.round(s)} s ago`
    : s < 5400
      ? `${Math.round(s / 60)} min ago`
      : s < 172800
        ? `${Math.round(s / 3600)} h ago`
        : `${Math.round(s / 86400)} d ago`;
};
const hours = (sec) =>
  sec === null || sec === undefined ? '–' : sec >= 86400 ? `${(sec / 86400).toFixed(1)} d` : `${(sec / 3600).toFixed(1)} h`;
export const level = (m) =>
  !m.score ? 'none' : m.score.probability >= 0.7 || m.unresolvedAlerts > 0 ? 'crit' : m.score.probability >= 0.4 ? 'warn' : 'ok';
const every = (fn, ms) => {
  const t = setInterval(fn, ms);
  return () => clearInterval(t);
};

export function fleet(el, { onError }) {
  const state = { sort: 'risk', filter: '' };
  el.innerHTML = `<h1>Fleet</h1>
    <div class="toolbar">
      <input id="f-filter" placeholder="filter by machine, line or site" aria-label="filter">
      <select id="f-sort" aria-label="sort"><option value="risk">riskiest first</option><option value="name">by name</option><option value="line">by line</option></select>
      <span class="meta" id="f-count"></span>
    </div>
    <div class="grid" id="f-grid"></div>`;
  let items = [];
  let total = 0;
  // The server filters, sorts and pages: a gateway may watch tens of thousands of machines.
  const PAGE = 500;
  const draw = () => {
    el.querySelector('#f-count').textContent =
      total > items.length
        ? `${items.length} of ${total} machines (${state.sort === 'risk' ? 'the riskiest' : 'the first'} shown)`
        : `${total} machines`;
    el.querySelector('#f-grid').innerHTML =
      items
        .map((m) => {
          const lv = level(m);
          const status = m.score ? `risk <b>${pct(m.score.probability)}</b>` : esc(m.status.replaceAll('_', ' '));
          return `<a class="card lvl-${lv}" href="#/machine/${encodeURIComponent(m.machine.machine)}" data-machine="${esc(m.machine.machine)}">
            <div class="name">${esc(m.machine.machine)}</div><div class="where">${esc(m.machine.site)} / ${esc(m.machine.line)}${m.kind ? ` · <span data-kind="${esc(m.kind.name)}">${esc(m.kind.name)}</span>` : ''}</div>
            <div class="risk lvl-${lv}">${m.score ? pct(m.score.probability) : '–'}</div>
            <div class="meta">${status}${m.score ? ` · RUL ${hours(m.score.rulSeconds)}` : ''} · ${m.unresolvedAlerts} open alert${m.unresolvedAlerts === 1 ? '' : 's'} · data ${ago(m.lastReceivedAt ?? m.lastSeenAt)}</div>
            ${m.score?.topSensors?.length ? `<div class="meta">driven by ${m.score.topSensors.map((t) => esc(t.sensor)).join(', ')}</div>` : ''}
            ${m.score?.missingInputs?.length ? `<div class="meta">no reading of ${m.score.missingInputs.map(esc).join(', ')} (held at its training mean)</div>` : ''}
          </a>`;
        })
        .join('') || `<div class="empty">${state.filter ? 'No machine matches the filter.' : 'No machines have sent data yet.'}</div>`;
  };
  const load = () =>
    api(`/api/v1/machines?sort=${state.sort}&limit=${PAGE}${state.filter ? `&q=${encodeURIComponent(state.filter)}` : ''}`)
      .then((r) => ((items = r.items), (total = r.total), draw()))
      .catch(onError);
  let typing;
  el.querySelector('#f-filter').addEventListener('input', (e) => {
    state.filter = e.target.value;
    clearTimeout(typing);
    typing = setTimeout(load, 200);
  });
  el.querySelector('#f-sort').addEventListener('change', (e) => ((state.sort = e.target.value), load()));
  load();
  return every(load, 5000);
}

const RANGES = { '1h': 3_600_000, '6h': 21_600_000, '24h': 86_400_000, '7d': 604_800_000 };

export function machine(el, id, { onError }) {
  el.innerHTML = `<h1>${esc(id)}</h1><div id="m-summary" class="meta"></div>
    <div class="toolbar"><label>range <select id="m-range">${Object.keys(RANGES)
      .map((k) => `<option ${k === '6h' ? 'selected' : ''}>${k}</option>`)
      .join('')}</select></label></div>
    <div class="panels"><div><h2>Risk</h2><div class="plot" id="m-risk"></div></div><div><h2>Sensors</h2><div class="plot" id="m-sensors"></div></div></div>
    <div class="panels"><div><h2>Why (top sensors)</h2><div id="m-top"></div></div><div><h2>Log an event</h2>
      <form class="event" id="m-event"><select name="type"><option>failure</option><option>maintenance</option><option>repair</option><option>note</option></select>
      <input name="component" placeholder="component"><input name="note" placeholder="note"><button>Record</button></form><div id="m-event-msg" class="meta"></div></div></div>
    <div class="panels"><div><h2>Alerts</h2><div id="m-alerts"></div></div><div><h2>Events</h2><div id="m-events"></div></div></div>`;
  const plots = [];
  const plot = (box, series, data, opts = {}) => {
    if (!data[0].length) return (box.innerHTML = '<div class="empty">No data in this range.</div>');
    const u = new uPlot(
      {
        width: Math.max(300, box.clientWidth - 16),
        height: opts.height ?? 240,
        series: [{}, ...series],
        axes: [{}, { size: 60 }],
        scales: opts.scales ?? {},
        legend: { live: false },
      },
      data,
      box,
    );
    plots.push(u);
  };
  const colours = ['#0b5cad', '#c4161c', '#1a7f37', '#b35c00', '#7b2cbf', '#00838f', '#6d4c41', '#ad1457'];
  const load = async () => {
    try {
      const m = await api(`/api/v1/machines/${encodeURIComponent(id)}`);
      const to = m.lastSeenAt ? Date.parse(m.lastSeenAt) + 1 : Date.now();
      const from = to - RANGES[el.querySelector('#m-range').value];
      el.querySelector('#m-summary').innerHTML =
        `${esc(m.machine.site)} / ${esc(m.machine.line)}${m.kind ? ` · kind ${esc(m.kind.name)} (${m.kind.source === 'config' ? 'configured' : 'inferred from its sensors'})` : ''} · ${m.score ? `risk <b class="lvl-${level(m)}">${pct(m.score.probability)}</b> · RUL ${hours(m.score.rulSeconds)} · model ${esc(m.score.model)}` : esc(m.detail ?? m.status)} · last reading received ${ago(m.lastReceivedAt ?? m.lastSeenAt)}${m.lastReceivedAt && Math.abs(Date.parse(m.lastReceivedAt) - Date.parse(m.lastSeenAt)) > 3_600_000 ? ` (stamped ${esc(m.lastSeenAt.slice(0, 16).replace('T', ' '))})` : ''}`;
      el.querySelector('#m-top').innerHTML = m.score?.topSensors?.length
        ? `<table><tr><th>sensor</th><th>contribution to p(failure)</th><th>latest</th></tr>${m.score.topSensors.map((t) => `<tr><td>${esc(t.sensor)}</td><td>${t.contribution >= 0 ? '+' : ''}${(t.contribution * 100).toFixed(1)} pts</td><td>${m.latest[t.sensor]?.value?.toFixed?.(2) ?? '–'}</td></tr>`).join('')}</table>`
        : '<div class="empty">No score yet.</div>';
      el.querySelector('#m-alerts').innerHTML = alertTable(m.alerts, false);
      const ev = await api(`/api/v1/machines/${encodeURIComponent(id)}/events?limit=20`);
      el.querySelector('#m-events').innerHTML = ev.items.length
        ? `<table><tr><th>when</th><th>type</th><th>component</th><th>note</th></tr>${ev.items.map((e) => `<tr data-event="${esc(e.type)}"><td>${esc(e.ts.slice(0, 16).replace('T', ' '))}</td><td>${esc(e.type)}</td><td>${esc(e.component ?? '')}</td><td>${esc(e.note ?? '')}</td></tr>`).join('')}</table>`
        : '<div class="empty">No failures, maintenance or repairs recorded.</div>';
      const [readings, scores] = await Promise.all([
        api(`/api/v1/machines/${encodeURIComponent(id)}/readings?from=${from}&to=${to}&points=600`),
        api(`/api/v1/machines/${encodeURIComponent(id)}/scores?from=${from}&to=${to}&limit=2000`),
      ]);
      plots.splice(0).forEach((p) => p.destroy());
      const sensors = [...new Set(readings.points.flatMap((p) => Object.keys(p.values)))].sort();
      const times = readings.points.map((p) => Date.parse(p.ts) / 1000);
      // One small plot per sensor: their units and scales differ too much to share an axis.
      const box = el.querySelector('#m-sensors');
      box.innerHTML = sensors.length ? '' : '<div class="empty">No data in this range.</div>';
      sensors.forEach((s, i) => {
        const cell = document.createElement('div');
        cell.dataset.sensor = s;
        box.append(cell);
        plot(cell, [{ label: s, stroke: colours[i % colours.length] }], [times, readings.points.map((p) => p.values[s] ?? null)], {
          height: 120,
        });
      });
      const risk = el.querySelector('#m-risk');
      risk.innerHTML = '';
      plot(
        risk,
        [{ label: 'p(failure)', stroke: '#c4161c', fill: 'rgba(196,22,28,.1)' }],
        [scores.items.map((s) => Date.parse(s.dataTs) / 1000), scores.items.map((s) => s.probability)],
        { scales: { y: { range: [0, 1] } } },
      );
    } catch (err) {
      onError(err);
    }
  };
  el.querySelector('#m-range').addEventListener('change', load);
  el.querySelector('#m-event').addEventListener('submit', async (e) => {
    e.preventDefault();
    const f = new FormData(e.target);
    const body = { machine: id, type: f.get('type') };
    if (f.get('component')) body.component = f.get('component');
    if (f.get('note')) body.note = f.get('note');
    try {
      const r = await api('/api/v1/events', { method: 'POST', body });
      el.querySelector('#m-event-msg').textContent = `recorded ${r.type} at ${r.ts} by ${r.recordedBy}`;
      e.target.reset();
      // The event goes through the journal to the store; show it once it is there.
      setTimeout(load, 1000);
    } catch (err) {
      el.querySelector('#m-event-msg').textContent =
        err.status === 401 || err.status === 403 ? 'Recording events needs an operator token (top right).' : err.message;
    }
  });
  load();
  const stop = every(load, 10_000);
  return () => (stop(), plots.forEach((p) => p.destroy()));
}

export function alertTable(alerts, actions) {
  if (!alerts.length) return '<div class="empty">No alerts.</div>';
  return `<table><tr><th>#</th><th>machine</th><th>kind</th><th>severity</th><th>state</th><th>message</th><th>opened</th>${actions ? '<th></th>' : ''}</tr>${alerts
    .map(
      (
        a,
      ) => `<tr class="sev-${a.severity}" data-alert="${a.id}" data-state="${a.state}"><td>${a.id}</td><td><a href="#/machine/${encodeURIComponent(a.machine.machine)}">${esc(a.machine.machine)}</a></td><td>${esc(a.kind)}${a.subject ? `: ${esc(a.subject)}` : ''}</td>
      <td>${esc(a.severity)}</td><td class="state">${esc(a.state)}${a.acknowledged ? `<div class="meta">by ${esc(a.acknowledged.by)}</div>` : ''}${a.resolved ? `<div class="meta">${esc(a.resolved.resolution)}${a.outcome ? `, ${esc(a.outcome.replace('_', ' '))}` : ''}</div>` : ''}</td>
      <td>${esc(a.message)}</td><td>${ago(a.openedAt)}</td>
      ${actions ? `<td>${a.state === 'open' ? `<button data-act="ack" data-id="${a.id}">Acknowledge</button> ` : ''}${a.state !== 'resolved' ? `<button class="secondary" data-act="resolve" data-id="${a.id}">Resolve</button>` : ''}</td>` : ''}</tr>`,
    )
    .join('')}</table>`;
}

export function alerts(el, { onError, subscribe }) {
  el.innerHTML = `<h1>Alerts</h1><div class="toolbar"><select id="a-state" aria-label="state"><option value="unresolved">open and acknowledged</option><option value="resolved">resolved</option><option value="">all</option></select><span class="meta" id="a-live"></span><span class="meta" id="a-quality"></span></div><div id="a-list"></div>`;
  const byId = new Map();
  const draw = () => {
    const want = el.querySelector('#a-state').value;
    const list = [...byId.values()]
      .filter((a) => !want || (want === 'unresolved' ? a.state !== 'resolved' : a.state === want))
      .sort((a, b) => b.id - a.id);
    el.querySelector('#a-list').innerHTML = alertTable(list, true);
  };
  const load = async () => {
    try {
      const want = el.querySelector('#a-state').value;
      const r = await api(`/api/v1/alerts?limit=200${want ? `&state=${want}` : ''}`);
      byId.clear();
      r.items.forEach((a) => byId.set(a.id, a));
      draw();
      const q = await api('/api/v1/alerts/quality');
      const since = q.period.from ? ` since ${new Date(q.period.from).toLocaleString()}` : '';
      el.querySelector('#a-quality').textContent =
        `production precision ${pct(q.precision)}, recall ${pct(q.recall)} (${q.truePositives} announced, ${q.missedFailures} missed, ${q.falseAlarms} false alarms${since}; live failures only)`;
    } catch (err) {
      onError(err);
    }
  };
  el.querySelector('#a-state').addEventListener('change', load);
  el.querySelector('#a-list').addEventListener('click', async (e) => {
    const b = e.target.closest('button[data-act]');
    if (!b) return;
    b.disabled = true;
    try {
      const a = await api(`/api/v1/alerts/${b.dataset.id}/${b.dataset.act}`, { method: 'POST' });
      byId.set(a.id, a);
      draw();
    } catch (err) {
      b.disabled = false;
      onError(
        err.status === 401 || err.status === 403 ? new Error('Acknowledging and resolving need an operator token (top right).') : err,
      );
    }
  });
  load();
  const unsubscribe = subscribe((ev, live) => {
    el.querySelector('#a-live').textContent = live ? '● live' : '○ reconnecting…';
    if (ev) {
      byId.set(ev.alert.id, ev.alert);
      draw();
    }
  });
  return unsubscribe;
}

export function gateway(el, { onError }) {
  el.innerHTML = '<h1>Gateway</h1><div id="g-body"></div>';
  const kv = (o) =>
    `<dl class="kv">${Object.entries(o)
      .map(([k, v]) => `<dt>${esc(k)}</dt><dd>${esc(v)}</dd>`)
      .join('')}</dl>`;
  const load = async () => {
    try {
      const [s, runs, energy, kinds] = await Promise.all([
        api('/api/v1/status'),
        api('/api/v1/training/runs?limit=8'),
        api('/api/v1/energy?limit=10'),
        api('/api/v1/kinds').catch(() => ({ items: [], rule: '' })),
      ]);
      const rejects = Object.entries(s.ingest.rejectedByReason);
      el.querySelector('#g-body').innerHTML = `<div class="panels">
        <div class="card"><h2>Ingest</h2>${kv({ 'messages/s': s.ingest.messagesPerSecond.toFixed(1), 'readings/s': s.ingest.readingsPerSecond.toFixed(0), accepted: s.ingest.messagesAccepted, rejected: s.ingest.messagesRejected, 'rejects by reason': rejects.length ? rejects.map(([k, v]) => `${k} ${v}`).join(', ') : 'none' })}</div>
        <div class="card"><h2>Store and journal</h2>${kv({ store: `${s.store.kind} ${s.store.state}`, 'readings stored': s.store.readingsStored, 'last commit': s.store.lastCommitAt ? ago(s.store.lastCommitAt) : '–', 'journal depth': s.journal.depth, backpressure: s.journal.backpressure ? 'ON' : 'off' })}</div>
        <div class="card"><h2>Broker</h2>${kv({ mode: s.broker.mode, url: s.broker.url, connected: s.broker.connected ? 'yes' : 'NO', subscribed: s.broker.subscribed ? 'yes' : 'NO', 'last error': s.broker.lastError ?? '–' })}</div>
        <div class="card"><h2>Model</h2>${kv({ champion: s.model.champion ?? `none yet${s.model.whyNone ? `: ${s.model.whyNone}` : ''}`, F1: s.model.f1?.toFixed(3) ?? '–', 'PR-AUC': s.model.prAuc?.toFixed(3) ?? '–', 'RUL RMSE (steps)': s.model.rulRmse?.toFixed(1) ?? '–', 'trained on': s.model.trainedOn ?? '–', scored: `${s.scoring.machinesScored} of ${s.scoring.machines} machines`, 'event-loop lag p99': `${s.scoring.eventLoopLagMs.p99.toFixed(1)} ms` })}${(s.model.warnings ?? []).map((w) => `<div class="warn">⚠ ${esc(w)}</div>`).join('')}</div>
      </div>
      ${kindsTable(kinds, s.model.kinds ?? [])}
      <h2>Training runs</h2>${runs.items.length ? `<table><tr><th>#</th><th>kind</th><th>trigger</th><th>state</th><th>started</th><th>progress / result</th></tr>${runs.items.map((r) => `<tr><td>${r.id}</td><td>${esc(r.kind ?? '–')}</td><td>${esc(r.trigger)}</td><td>${esc(r.state)}</td><td>${ago(r.startedAt)}</td><td>${esc(r.state === 'running' ? progressText(r.progress) : (r.reason ?? r.error ?? ''))}</td></tr>`).join('')}</table>` : '<div class="empty">No runs yet.</div>'}
      <h2>Energy</h2>${kv({ policy: `${energy.policy.enabled ? '' : 'OFF — '}${energy.policy.objective}, cron ${energy.policy.cron} ${energy.policy.timezone}`, 'next tick': energy.policy.nextTick ?? '–', 'last decision': energy.policy.lastDecision ? `${energy.policy.lastDecision.action}: ${energy.policy.lastDecision.reason}` : '–', 'budget used': `${(energy.budget.usedKWh * 1000).toFixed(1)} Wh this ${energy.budget.period}${energy.budget.limitKWh ? ` of ${energy.budget.limitKWh * 1000} Wh` : ''}`, 'all runs': `${(energy.totals.kWh * 1000).toFixed(1)} Wh, ${energy.totals.gCO2e.toFixed(1)} gCO2e, ${energy.totals.avoidedGCO2e.toFixed(1)} g avoided` })}
      ${energy.runs.length ? `<table><tr><th>run</th><th>method</th><th>energy</th><th>gCO2e</th><th>intensity</th></tr>${energy.runs.map((r) => `<tr><td>${r.runId}</td><td>${esc(r.method)}</td><td>${(r.kWh * 1000).toFixed(2)} Wh</td><td>${r.gCO2e.toFixed(2)}</td><td>${r.intensity?.toFixed(0) ?? 'fallback'}</td></tr>`).join('')}</table>` : ''}
      ${federationPanel(s.federation, kv)}`;
    } catch (err) {
      onError(err);
    }
  };
  load();
  return every(load, 5000);
}

function progressText(p) {
  if (!p) return 'starting';
  const member = p.members > 1 ? `member ${p.member}/${p.members}, ` : '';
  if (p.phase === 'training')
    return `${member}epoch ${p.epoch}/${p.epochs}, loss ${p.loss.toFixed(3)}, ETA ${Math.round(p.etaMs / 1000)} s`;
  if (p.phase === 'batch') return `${member}epoch ${p.epoch}/${p.epochs}: ${Math.round((p.done / p.total) * 100)}%`;
  return p.message ?? p.phase;
}

/** One row per machine kind: its machines, its champion and figures, or why it has none. */
function kindsTable(kinds, champions) {
  if (!kinds.items.length) return '';
  const byKind = Object.fromEntries(champions.map((c) => [c.kind, c]));
  const rows = kinds.items
    .map((k) => {
      const c = byKind[k.name];
      const model = c
        ? `${esc(c.champion)}${c.transferredFrom ? ` (from ${esc(c.transferredFrom)})` : ''} · F1 ${c.f1.toFixed(3)} · RUL RMSE ${c.rulRmse.toFixed(1)}${c.warnings.map((w) => `<div class="warn">⚠ ${esc(w)}</div>`).join('')}`
        : k.servedBy
          ? `${esc(k.servedBy)} (a model from before kinds)`
          : `<span class="warn">no model: ${esc(k.whyNoModel ?? '')}</span>`;
      return `<tr data-kind="${esc(k.name)}"><td>${esc(k.name)}</td><td>${k.source === 'config' ? 'configured' : 'inferred'}</td><td>${k.machines}</td><td>${k.sensors.length}</td><td>${model}</td></tr>`;
    })
    .join('');
  return `<h2>Machine kinds</h2><table><tr><th>kind</th><th>from</th><th>machines</th><th>sensors</th><th>model</th></tr>${rows}</table><div class="meta">${esc(kinds.rule)}</div>`;
}

/** The federation this gateway takes part in: what it does for each kind, and the rounds it coordinates. */
function federationPanel(f, kv) {
  if (!f) return '';
  if (!f.enabled)
    return '<h2>Federated learning</h2><div class="empty" data-federation="off">Off: this gateway learns from its own machines only.</div>';
  const c = f.counters;
  const refused = Object.entries(c.refused);
  const kb = (n) => (n >= 1048576 ? `${(n / 1048576).toFixed(1)} MB` : `${(n / 1024).toFixed(0)} kB`);
  const head = kv({
    federation: f.id,
    'this gateway': f.client,
    broker: `${f.broker.url} — ${f.broker.connected ? 'connected' : `NOT connected${f.broker.lastError ? `: ${f.broker.lastError}` : ''}`}`,
    messages: `${c.accepted} accepted, ${refused.length ? `refused: ${refused.map(([k, v]) => `${k} ${v}`).join(', ')}` : 'none refused'}`,
    exchanged: `${kb(c.bytesIn)} in, ${kb(c.bytesOut)} out`,
  });
  const rmse = (m) => (m?.validationRmse === null || m?.validationRmse === undefined ? '–' : m.validationRmse.toFixed(1));
  const part = f.participating.length
    ? `<table><tr><th>kind</th><th>round</th><th>last</th><th>updates sent</th><th>late</th><th>federated model here</th></tr>${f.participating
        .map(
          (k) =>
            `<tr data-federated-kind="${esc(k.kind)}"><td>${esc(k.kind)}</td><td>${k.task === 'stats' ? 'statistics' : k.task === 'final' ? 'final' : `${k.round} of ${k.rounds}`}</td><td>${esc(k.last)} (${ago(k.lastAt)})</td><td>${k.updatesSent}</td><td>${k.lateOrMissed}</td><td>${
              k.adoption
                ? `${k.adoption.promoted ? 'champion' : 'kept local champion'}${k.adoption.version ? ` ${esc(k.adoption.version)}` : ''}: ${esc(k.adoption.reason)}`
                : '–'
            }</td></tr>`,
        )
        .join('')}</table>`
    : '<div class="empty">No federation plan received yet for the kinds here.</div>';
  const coord = f.coordinating.length
    ? `<h3>Coordinated here</h3><table><tr><th>kind</th><th>phase</th><th>round</th><th>gateways</th><th>last round</th><th>validation RUL RMSE</th><th>privacy</th></tr>${f.coordinating
        .map((k) => {
          const r = k.lastRound;
          return `<tr><td>${esc(k.kind)}</td><td>${esc(k.phase)}</td><td>${k.round} of ${k.rounds}</td><td>${k.participants.length}</td><td>${
            r
              ? `${r.clients.length} updates${r.stragglers.length ? `, late: ${esc(r.stragglers.join(', '))}` : ''}${r.refused.length ? `, ${r.refused.length} refused` : ''} (${ago(r.closedAt)})`
              : '–'
          }</td><td>${rmse(r?.metrics)}</td><td>${k.privacy ? `clip ${k.privacy.clipNorm}, noise ${k.privacy.noiseMultiplier}${r?.epsilon ? `, ε ${r.epsilon.toFixed(2)}` : ''}` : 'off'}</td></tr>`;
        })
        .join('')}</table>`
    : '';
  return `<h2>Federated learning</h2><div data-federation="on">${head}${part}${coord}</div>`;
}
