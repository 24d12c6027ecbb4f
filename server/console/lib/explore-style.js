// Styles of the promql, sql, cardinality and status views, injected once (style.css is the
// shell's; these are the views' own).

const CSS = `
.view-promql .u-legend { display: block; max-height: 220px; overflow: auto; text-align: left; }
.view-promql .u-legend .u-series { display: inline-block; }
.view-sql .tables li button { width: 100%; text-align: left; }
.barcell { display: flex; align-items: center; gap: 6px; min-width: 140px; }
.barcell .bar { flex: none; }
.bars td:first-child { word-break: break-all; }
.status-grid dl { margin-bottom: 8px; }
.sig-title { text-transform: capitalize; }
`;

/** Adds the views' styles to the document (once). */
export function useExploreStyle() {
  if (document.getElementById('explore-style')) return;
  const el = document.createElement('style');
  el.id = 'explore-style';
  el.textContent = CSS;
  document.head.append(el);
}
