// The alerts table of the Alerts view and of a machine's view.
import { ago, esc } from './format.js';

const clock = (iso) => new Date(iso).toLocaleString([], { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });

/** Escalation steps taken, for the state column: "escalated 14:05 → critical, told webhook:oncall". */
const escalations = (a) =>
  (a.escalations ?? [])
    .map(
      (e) =>
        `<div class="meta escalated" data-escalation="${esc(e.step)}">escalated ${esc(clock(e.at))}${e.raisedTo ? ` → ${esc(e.raisedTo)}` : ''}${e.channels.length ? `, told ${esc(e.channels.join(', '))}` : ''}</div>`,
    )
    .join('');

/**
 * `actions`: Acknowledge/Resolve buttons; `machineColumn`: false on a machine's own view. The table
 * scrolls inside its box rather than widening the page.
 */
export function alertTable(alerts, { actions = false, machineColumn = true } = {}) {
  if (!alerts.length) return '<div class="empty">No alerts.</div>';
  const head = `<tr><th>#</th>${machineColumn ? '<th>machine</th>' : ''}<th>kind</th><th>severity</th><th>state</th><th>message</th><th>opened</th>${actions ? '<th></th>' : ''}</tr>`;
  const rows = alerts
    .map(
      (a) => `<tr class="sev-${a.severity}" data-alert="${a.id}" data-state="${a.state}"><td>${a.id}</td>${
        machineColumn ? `<td><a href="#/machine/${encodeURIComponent(a.machine.machine)}">${esc(a.machine.machine)}</a></td>` : ''
      }<td>${esc(a.kind.replaceAll('_', ' '))}${a.subject ? `: ${esc(a.subject)}` : ''}</td>
      <td>${esc(a.severity)}</td><td class="state">${esc(a.state)}${a.verdict ? `<div class="meta verdict" data-verdict="${esc(a.verdict.verdict)}">verdict: ${esc(a.verdict.verdict)}</div>` : ''}${a.acknowledged ? `<div class="meta">by ${esc(a.acknowledged.by)}</div>` : ''}${a.resolved ? `<div class="meta">${esc(a.resolved.resolution)}${a.outcome ? `, ${esc(a.outcome.replace('_', ' '))}` : ''}</div>` : ''}${escalations(a)}</td>
      <td class="message">${esc(a.message)}</td><td class="opened" title="${esc(a.openedAt)}">${ago(a.openedAt)}</td>
      ${actions ? `<td class="actions">${verdictPicker(a)}${a.state === 'open' ? `<button data-act="ack" data-id="${a.id}">Acknowledge</button> ` : ''}${a.state !== 'resolved' ? `<button class="secondary" data-act="resolve" data-id="${a.id}">Resolve</button>` : ''}</td>` : ''}</tr>`,
    )
    .join('');
  return `<div class="table-wrap"><table class="alerts">${head}${rows}</table></div>`;
}

/**
 * An anomaly alert is settled with a verdict the next health model learns from: the technician picks
 * it before acknowledging or resolving (normal = fine, abnormal = a real problem, failure = logs one).
 */
function verdictPicker(a) {
  if (a.kind !== 'anomaly' || a.state === 'resolved' || a.verdict) return '';
  return `<select class="verdict" data-verdict-for="${a.id}" aria-label="verdict" title="what was it? the health model learns from your answer">
    <option value="">verdict…</option><option value="normal">normal (fine)</option><option value="abnormal">abnormal (a problem)</option><option value="failure">failure</option></select> `;
}
