// One function per view; each renders into `el` and returns a cleanup function.
import { api, token } from './api.js';
import { ago, esc, every, hours, level, pct } from './format.js';
export { machine } from './machine.js';
import { alertTable } from './alert-table.js';

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
            ${healthLine(m)}
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

/** What an anonymous technician needs to acknowledge or resolve, and how to get it. */
const TOKEN_HINT_TEXT =
  'Acknowledge and Resolve need an operator token. On the gateway, run `vigil token create --name <you> --role operator`, add the printed entry under api.tokens in the config, restart Vigil, and paste the token at the top right.';
const TOKEN_HINT = esc(TOKEN_HINT_TEXT).replace(/`([^`]+)`/g, '<code>$1</code>');

export function alerts(el, { onError, subscribe }) {
  el.innerHTML = `<h1>Alerts</h1><div class="toolbar"><select id="a-state" aria-label="state"><option value="unresolved">open and acknowledged</option><option value="resolved">resolved</option><option value="">all</option></select><span class="meta" id="a-live"></span><span class="meta" id="a-quality"></span></div>${token.get() ? '' : `<div class="hint" id="a-token-hint">${TOKEN_HINT}</div>`}<div id="a-list"></div>`;
  const byId = new Map();
  const draw = () => {
    const want = el.querySelector('#a-state').value;
    const list = [...byId.values()]
      .filter((a) => !want || (want === 'unresolved' ? a.state !== 'resolved' : a.state === want))
      .sort((a, b) => b.id - a.id);
    el.querySelector('#a-list').innerHTML = alertTable(list, { actions: true });
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
        `failure risk: precision ${pct(q.precision)}, recall ${pct(q.recall)} (${q.truePositives} announced, ${q.missedFailures} missed, ${q.falseAlarms} false alarms) · ` +
        `anomaly: ${q.anomaly.truePositives} early warnings or problems, ${q.anomaly.falseAlarms} called normal, ${q.anomaly.missedFailures} failures missed · ` +
        `${q.unwatchedFailures} failures unwatched (no model yet)${since}; live failures only`;
    } catch (err) {
      onError(err);
    }
  };
  el.querySelector('#a-state').addEventListener('change', load);
  el.querySelector('#a-list').addEventListener('click', async (e) => {
    const b = e.target.closest('button[data-act]');
    if (!b) return;
    b.disabled = true;
    const verdict = el.querySelector(`select[data-verdict-for="${b.dataset.id}"]`)?.value;
    try {
      const a = await api(`/api/v1/alerts/${b.dataset.id}/${b.dataset.act}`, { method: 'POST', ...(verdict ? { body: { verdict } } : {}) });
      byId.set(a.id, a);
      draw();
    } catch (err) {
      b.disabled = false;
      onError(
        err.status === 401
          ? new Error(TOKEN_HINT_TEXT)
          : err.status === 403
            ? new Error(`This token may not do that: ${TOKEN_HINT_TEXT}`)
            : err,
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
        <div class="card"><h2>Model</h2>${kv({ champion: s.model.champion ?? `none yet${s.model.whyNone ? `: ${s.model.whyNone}` : ''}`, F1: s.model.f1?.toFixed(3) ?? '–', 'PR-AUC': s.model.prAuc?.toFixed(3) ?? '–', 'RUL RMSE (steps)': s.model.rulRmse?.toFixed(1) ?? '–', 'trained on': s.model.trainedOn ?? '–', 'LSTM kernels': s.training.kernels.uses === 'native' ? `native (${s.training.kernels.native})` : (s.training.kernels.uses ?? (s.training.kernels.reason ? 'none: native required and missing' : 'checking')), scored: `${s.scoring.machinesScored} of ${s.scoring.machines} machines`, 'event-loop lag p99': `${s.scoring.eventLoopLagMs.p99.toFixed(1)} ms` })}${(s.model.warnings ?? []).map((w) => `<div class="warn">⚠ ${esc(w)}</div>`).join('')}</div>
      </div>
      ${kindsTable(kinds, s.model.kinds ?? [], s.model.health ?? [])}
      <h2>Training runs</h2>${runs.items.length ? `<table><tr><th>#</th><th>kind</th><th>trigger</th><th>state</th><th>started</th><th>progress / result</th></tr>${runs.items.map((r) => `<tr><td>${r.id}</td><td>${esc(r.kind ?? '–')}</td><td>${esc(r.trigger)}</td><td>${esc(r.state)}</td><td>${ago(r.startedAt)}</td><td>${esc(r.state === 'running' ? progressText(r.progress) : (r.reason ?? r.error ?? ''))}</td></tr>`).join('')}</table>` : '<div class="empty">No runs yet.</div>'}
      <h2>Energy</h2>${kv({ policy: `${energy.policy.enabled ? '' : 'OFF — '}${energy.policy.objective}, cron ${energy.policy.cron} ${energy.policy.timezone}`, 'next tick': energy.policy.nextTick ? `${localTime(energy.policy.nextTick)} (${Intl.DateTimeFormat().resolvedOptions().timeZone})` : '–', 'last decision': energy.policy.lastDecision ? `${energy.policy.lastDecision.action}: ${energy.policy.lastDecision.reason}` : '–', 'budget used': `${energyText(energy.budget.usedKWh)} this ${energy.budget.period}${energy.budget.limitKWh ? ` of ${energyText(energy.budget.limitKWh)}` : ''}`, 'all runs': `${energyText(energy.totals.kWh)}, ${energy.totals.gCO2e.toFixed(1)} gCO2e, ${energy.totals.avoidedGCO2e.toFixed(1)} g avoided` })}
      ${energy.runs.length ? `<table><tr><th>run</th><th>method</th><th>energy</th><th>gCO2e</th><th>intensity</th></tr>${energy.runs.map((r) => `<tr><td>${r.runId}</td><td>${esc(r.method)}</td><td>${energyText(r.kWh)}</td><td>${r.gCO2e.toFixed(2)}</td><td>${r.intensity?.toFixed(0) ?? 'fallback'}</td></tr>`).join('')}</table>` : ''}
      ${federationPanel(s.federation, kv)}`;
    } catch (err) {
      onError(err);
    }
  };
  load();
  return every(load, 5000);
}

/** Energy for people: joules below 0.1 Wh (a small run's figure would read 0.0 Wh), else Wh or kWh. */
export function energyText(kWh) {
  const wh = kWh * 1000;
  if (wh < 0.1) return `${(wh * 3600).toFixed(wh * 3600 < 10 ? 1 : 0)} J`;
  if (wh < 1000) return `${wh.toFixed(wh < 10 ? 2 : 1)} Wh`;
  return `${kWh.toFixed(2)} kWh`;
}

const localTime = (iso) => new Date(iso).toLocaleString([], { weekday: 'short', hour: '2-digit', minute: '2-digit', second: '2-digit' });

function progressText(p) {
  if (!p) return 'starting';
  const member = p.members > 1 ? `member ${p.member}/${p.members}, ` : '';
  if (p.phase === 'training')
    return `${member}epoch ${p.epoch}/${p.epochs}, loss ${p.loss.toFixed(3)}, ETA ${Math.round(p.etaMs / 1000)} s`;
  if (p.phase === 'batch') return `${member}epoch ${p.epoch}/${p.epochs}: ${Math.round((p.done / p.total) * 100)}%`;
  return p.message ?? p.phase;
}

/** One row per machine kind: its machines, the champion of each model role and its figures, or why it has none. */
function kindsTable(kinds, champions, healthChampions = []) {
  if (!kinds.items.length) return '';
  const byKind = Object.fromEntries(champions.map((c) => [c.kind, c]));
  const healthOf = Object.fromEntries(healthChampions.map((c) => [c.kind, c]));
  const rows = kinds.items
    .map((k) => {
      const c = byKind[k.name];
      const model = c
        ? `${esc(c.champion)}${c.transferredFrom ? ` (from ${esc(c.transferredFrom)})` : ''} · F1 ${c.f1.toFixed(3)} · RUL RMSE ${c.rulRmse.toFixed(1)}${c.recipe ? `<div class="meta" data-model-recipe>${esc(c.recipe)}</div>` : ''}${c.warnings.map((w) => `<div class="warn">⚠ ${esc(w)}</div>`).join('')}`
        : k.servedBy
          ? `${esc(k.servedBy)} (a model from before kinds)`
          : `<span class="warn">no model: ${esc(k.whyNoModel ?? '')}</span>`;
      const h = healthOf[k.name];
      const health = h
        ? `${esc(h.champion)} · alerts below ${h.threshold} · ~${h.falseAlarmsPerMachineMonth.toFixed(2)} false alarms/machine-month${h.recipe ? `<div class="meta">${esc(h.recipe)}</div>` : ''}`
        : `<span class="warn">no model: ${esc(k.health?.whyNoModel ?? '')}</span>`;
      return `<tr data-kind="${esc(k.name)}"><td>${esc(k.name)}</td><td>${k.source === 'config' ? 'configured' : 'inferred'}</td><td>${k.machines}</td><td>${k.sensors.length}</td><td data-recipe>${recipeCell(k.recipe)}</td><td>${model}</td><td data-health-model="${esc(h?.champion ?? '')}">${health}</td></tr>`;
    })
    .join('');
  return `<h2>Machine kinds</h2><table><tr><th>kind</th><th>from</th><th>machines</th><th>sensors</th><th>recipe</th><th>failure model</th><th>health model</th></tr>${rows}</table><div class="meta">${esc(kinds.rule)}</div>`;
}

/** What a kind's next runs learn with: its step, window, horizon, RUL cap and model, and whether its own recipe set them. */
function recipeCell(r) {
  if (!r) return '–';
  const own = r.overrides.length ? `own recipe: ${r.overrides.join(', ')}` : 'global settings';
  const model = `LSTM ${r.units.join('/')}${r.pooling === 'attention' ? ' + attention' : ''}${r.rulLateWeight > 1 ? ` · late RUL errors ×${r.rulLateWeight}` : ''}`;
  const smoothed = r.smoothing < 1 ? ` · inputs smoothed ${r.smoothing}` : '';
  return `step ${esc(stepText(r.stepMs))} · window ${r.window}${smoothed} · horizon ${r.horizon} · RUL cap ${r.rulCap} · ${esc(model)}<div class="meta">${esc(own)}</div>`;
}

/** A step as the config writes it (10m, 1h). */
function stepText(ms) {
  for (const [unit, size] of [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1000],
  ])
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  return `${ms}ms`;
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

/** A card's health line: the index against its threshold, or why there is none yet (learning normal: 9 h of 24 h). */
function healthLine(m) {
  if (!m.health) return m.healthDetail ? `<div class="meta health-none">health: ${esc(m.healthDetail)}</div>` : '';
  const h = m.health;
  const lv = h.index < h.threshold ? 'crit' : h.index < h.threshold + 10 ? 'warn' : 'ok';
  const off = h.deviations.slice(0, 2).map((d) => `${esc(d.sensor)} ${d.delta >= 0 ? '↑' : '↓'}`);
  return `<div class="health lvl-${lv}" data-health="${h.index}">health <b>${Math.round(h.index)}</b><span class="meta"> / alert below ${h.threshold}${off.length ? ` · ${off.join(', ')}` : ''}</span></div>`;
}
