// Formatting and small helpers shared by the views.
export const esc = (s) =>
  String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
export const pct = (p) => (p === null || p === undefined ? '–' : `${Math.round(p * 100)}%`);
export const ago = (iso) => {
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
export const hours = (sec) =>
  sec === null || sec === undefined ? '–' : sec >= 86400 ? `${(sec / 86400).toFixed(1)} d` : `${(sec / 3600).toFixed(1)} h`;
/** A card's colour: high risk, open alerts or health below its threshold are critical. */
export const level = (m) => {
  const sick = m.health && m.health.index < m.health.threshold;
  if (!m.score) return sick || (m.health && m.unresolvedAlerts > 0) ? 'crit' : m.health ? 'ok' : 'none';
  return m.score.probability >= 0.7 || m.unresolvedAlerts > 0 || sick ? 'crit' : m.score.probability >= 0.4 ? 'warn' : 'ok';
};
export const every = (fn, ms) => {
  const t = setInterval(fn, ms);
  return () => clearInterval(t);
};
