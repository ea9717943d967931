extension DashboardAssets {
    /// `overview.js`: the guide's health table (the same figures as `stats --json`), the charts and
    /// their live refresh (polling every 5 s).
    static let overviewScript = #"""
        'use strict';
        (function () {
          const LH = window.LH = window.LH || { pages: {} };
          LH.pages = LH.pages || {};
          const WINDOWS = { '1h': 'last hour', '24h': 'last 24 hours', '7d': 'last 7 days' };

          // healthy: true (green), false (red), null: nothing to judge yet, or good so far while
          // deliveries are unsettled (stats shows ⏳ then, never ✅).
          function flagCell(value, healthy, extra, settling) {
            const cell = LH.h('td', { class: 'num' + (healthy === true ? ' health-good' : healthy === false ? ' health-bad' : '') });
            cell.appendChild(LH.h('span', { class: 'value', text: value }));
            cell.appendChild(document.createTextNode(' '));
            const pill = healthy === true ? ['good', '✓ ok'] : healthy === false ? ['bad', '✗ alert'] : settling ? ['na', '⏳ settling'] : ['na', 'n/a'];
            cell.appendChild(LH.h('span', { class: 'pill ' + pill[0], text: pill[1] }));
            if (extra !== undefined) cell.setAttribute('data-raw', extra === null ? '' : extra);
            return cell;
          }

          // A paused or disabled sink gets a badge beside its name (see `loyali-hooks sinks`).
          function stateBadge(state) {
            if (!state || state.state === 'healthy') return null;
            const at = (iso) => iso ? new Date(iso).toLocaleString() : '?';
            const text = state.state === 'paused' ? '⏸ paused until ' + at(state.paused_until) : '⛔ disabled since ' + at(state.since);
            return LH.h('span', { class: 'pill bad sink-state', 'data-state': state.state, title: state.reason || '', text });
          }

          function healthTable(rows, since) {
            const head = ['Pipeline', 'Sink', 'Deliveries', 'Success rate (>99%)', 'Latency p50 / p95 (<500 ms)', 'Retry rate (<5%)', 'Failed (0)', 'Pending', 'In flight'];
            const table = LH.h('table', { id: 'health', 'aria-describedby': 'health-caption' },
              LH.h('caption', { id: 'health-caption', class: 'visually-hidden', text: 'Health per pipeline and sink since ' + since }),
              LH.h('thead', {}, LH.h('tr', {}, head.map((title, i) => LH.h('th', { scope: 'col', class: i >= 2 ? 'num' : '', text: title })))));
            const body = LH.h('tbody');
            if (!rows.length) body.appendChild(LH.h('tr', {}, LH.h('td', { colspan: head.length, class: 'muted', text: 'No deliveries in this window.' })));
            for (const row of rows) {
              const healthy = row.healthy || {};
              const settling = row.pending + row.in_flight > 0;
              const tr = LH.h('tr', { 'data-pipeline': row.pipeline, 'data-sink': row.sink },
                LH.h('th', { scope: 'row', text: row.pipeline }),
                LH.h('td', {}, LH.h('a', { href: '#/log?pipeline=' + encodeURIComponent(row.pipeline) + '&sink=' + encodeURIComponent(row.sink), text: row.sink }),
                  row.state && row.state.state !== 'healthy' ? ' ' : null, stateBadge(row.state)),
                LH.h('td', { class: 'num', 'data-field': 'deliveries', text: row.deliveries }),
                flagCell(LH.percent(row.success_rate), healthy.success_rate, row.success_rate, settling),
                flagCell(LH.ms(row.latency_p50_ms) + ' / ' + LH.ms(row.latency_p95_ms), healthy.latency),
                flagCell(LH.percent(row.retry_rate), healthy.retry_rate, row.retry_rate),
                flagCell(String(row.failed), healthy.failed, row.failed, settling),
                LH.h('td', { class: 'num', 'data-field': 'pending', text: row.pending }),
                LH.h('td', { class: 'num', 'data-field': 'in_flight', text: row.in_flight }));
              tr.children[3].setAttribute('data-field', 'success_rate');
              tr.children[4].setAttribute('data-field', 'latency');
              tr.children[4].setAttribute('data-p50', row.latency_p50_ms === null ? '' : row.latency_p50_ms);
              tr.children[4].setAttribute('data-p95', row.latency_p95_ms === null ? '' : row.latency_p95_ms);
              tr.children[5].setAttribute('data-field', 'retry_rate');
              tr.children[6].setAttribute('data-field', 'failed');
              body.appendChild(tr);
            }
            table.appendChild(body);
            return LH.h('div', { class: 'table-wrap' }, table);
          }

          function kpis(rows) {
            const sum = (key) => rows.reduce((total, row) => total + (row[key] || 0), 0);
            const unhealthy = rows.filter((row) => Object.values(row.healthy || {}).some((flag) => flag === false)
              || (row.state && row.state.state !== 'healthy')).length;
            const items = [['Deliveries', sum('deliveries'), 'k-deliveries'], ['Succeeded', sum('succeeded'), 'k-succeeded'], ['Failed', sum('failed'), 'k-failed'],
              ['Pending', sum('pending'), 'k-pending'], ['In flight', sum('in_flight'), 'k-in-flight'], ['Sinks needing attention', unhealthy, 'k-alerts']];
            return LH.h('div', { class: 'kpis' }, items.map(([label, value, id]) =>
              LH.h('div', { class: 'kpi' }, LH.h('div', { class: 'v', id, text: value }), LH.h('div', { class: 'l', text: label }))));
          }

          function axisLabel(iso, window) {
            const d = new Date(iso);
            const pad = (n) => String(n).padStart(2, '0');
            return window === '7d' ? (d.getMonth() + 1) + '/' + d.getDate() + ' ' + pad(d.getHours()) + 'h' : pad(d.getHours()) + ':' + pad(d.getMinutes());
          }

          function frame(title, max, unit, buckets, window) {
            const W = 720, H = 220, L = 48, B = 24, T = 10;
            const svg = LH.svg('svg', { class: 'chart', viewBox: '0 0 ' + W + ' ' + H, role: 'img', 'aria-label': title });
            svg.appendChild(LH.svg('title', { text: title }));
            for (let i = 0; i <= 4; i++) {
              const y = T + (H - T - B) * i / 4;
              svg.appendChild(LH.svg('line', { class: 'grid', x1: L, x2: W, y1: y, y2: y }));
              const value = max * (4 - i) / 4;
              svg.appendChild(LH.svg('text', { x: L - 6, y: y + 4, 'text-anchor': 'end', text: (Math.round(value * 10) / 10) + unit }));
            }
            const n = buckets.length;
            [[0, 'start'], [Math.floor(n / 2), 'middle'], [n - 1, 'end']].forEach(([i, anchor]) => {
              if (i < 0 || !buckets[i]) return;
              const x = anchor === 'start' ? L : anchor === 'end' ? W : L + (W - L) * (i + 0.5) / n;
              svg.appendChild(LH.svg('text', { x, y: H - 6, 'text-anchor': anchor, text: axisLabel(buckets[i].start, window) }));
            });
            return { svg, W, H, L, B, T };
          }

          function rateChart(series) {
            const minutes = series.bucket_seconds / 60;
            const buckets = series.buckets;
            const rates = buckets.map((b) => [b.succeeded / minutes, b.retried / minutes, b.failed / minutes]);
            const max = Math.max(1, ...rates.map((r) => r[0] + r[1] + r[2]));
            const title = 'Attempts per minute by outcome, ' + WINDOWS[series.window];
            const f = frame(title, max, '', buckets, series.window);
            const width = (f.W - f.L) / buckets.length;
            rates.forEach((r, i) => {
              let y = f.H - f.B;
              [['bar-s', r[0]], ['bar-r', r[1]], ['bar-f', r[2]]].forEach(([cls, value]) => {
                if (!value) return;
                const height = (f.H - f.B - f.T) * value / max;
                y -= height;
                const rect = LH.svg('rect', { class: cls, x: f.L + i * width + 0.5, y, width: Math.max(1, width - 1), height });
                rect.appendChild(LH.svg('title', { text: axisLabel(buckets[i].start, series.window) + ': ' + (Math.round(value * 100) / 100) + '/min' }));
                f.svg.appendChild(rect);
              });
            });
            const totals = buckets.reduce((t, b) => [t[0] + b.succeeded, t[1] + b.retried, t[2] + b.failed], [0, 0, 0]);
            return LH.h('figure', { class: 'card grow' },
              LH.h('h2', { text: 'Deliveries per minute' }),
              LH.h('div', { class: 'legend' },
                LH.h('span', {}, LH.h('span', { class: 'sw s' }), 'succeeded (' + totals[0] + ')'),
                LH.h('span', {}, LH.h('span', { class: 'sw r' }), 'retried (' + totals[1] + ')'),
                LH.h('span', {}, LH.h('span', { class: 'sw f' }), 'failed (' + totals[2] + ')')),
              f.svg);
          }

          function latencyChart(series) {
            const buckets = series.buckets;
            const max = Math.max(10, ...buckets.map((b) => b.latency_p95_ms || 0));
            const f = frame('Attempt latency p50 and p95, ' + WINDOWS[series.window], max, 'ms', buckets, series.window);
            const width = (f.W - f.L) / buckets.length;
            for (const [key, cls] of [['latency_p50_ms', 'line-p50'], ['latency_p95_ms', 'line-p95']]) {
              let points = [];
              const flush = () => { if (points.length) f.svg.appendChild(LH.svg(points.length > 1 ? 'polyline' : 'circle', points.length > 1 ? { class: cls, points: points.join(' ') } : { class: cls, cx: points[0].split(',')[0], cy: points[0].split(',')[1], r: 2 })); points = []; };
              buckets.forEach((b, i) => {
                if (b[key] === null || b[key] === undefined) { flush(); return; }
                points.push((f.L + (i + 0.5) * width).toFixed(1) + ',' + (f.H - f.B - (f.H - f.B - f.T) * b[key] / max).toFixed(1));
              });
              flush();
            }
            const threshold = f.H - f.B - (f.H - f.B - f.T) * 500 / max;
            if (500 <= max) f.svg.appendChild(LH.svg('line', { x1: f.L, x2: f.W, y1: threshold, y2: threshold, stroke: 'currentColor', 'stroke-dasharray': '4 4', opacity: '0.5' }));
            return LH.h('figure', { class: 'card grow' },
              LH.h('h2', { text: 'Latency' }),
              LH.h('div', { class: 'legend' },
                LH.h('span', {}, LH.h('span', { class: 'sw p50' }), 'p50'),
                LH.h('span', {}, LH.h('span', { class: 'sw p95' }), 'p95'),
                LH.h('span', { text: '- - - 500 ms target' })),
              f.svg);
          }

          LH.pages.overview = async function (main, parts, query) {
            const window = WINDOWS[query.get('window')] ? query.get('window') : '24h';
            const alive = LH.current();
            const picker = LH.h('select', { id: 'window', onchange: (e) => LH.go('overview', new URLSearchParams({ window: e.target.value })) },
              Object.entries(WINDOWS).map(([value, label]) => LH.h('option', { value, selected: value === window, text: label })));
            const updated = LH.h('span', { class: 'muted', id: 'updated', 'aria-live': 'off' });
            const kpiBox = LH.h('div');
            const tableBox = LH.h('div', { id: 'health-box' });
            const charts = LH.h('div', { class: 'row', id: 'charts' });
            main.append(
              LH.h('h1', { text: 'Overview' }),
              LH.h('div', { class: 'row end' }, LH.h('div', {}, LH.h('label', { for: 'window', text: 'Window' }), picker), updated),
              LH.h('p', { class: 'muted' }, 'Health per pipeline and sink over the ' + WINDOWS[window] + ': the figures of ',
                LH.h('code', { text: 'loyali-hooks stats --since ' + window + ' --json' }), '. Counts refresh every 5 seconds.'),
              kpiBox, LH.h('h2', { text: 'Health' }), tableBox, charts);
            async function refresh() {
              const [stats, series] = await Promise.all([LH.get('/api/stats?since=' + window), LH.get('/api/timeseries?window=' + window)]);
              if (!alive()) return;
              kpiBox.replaceChildren(kpis(stats.sinks));
              tableBox.replaceChildren(healthTable(stats.sinks, stats.since));
              charts.replaceChildren(rateChart(series), latencyChart(series));
              updated.textContent = 'Updated ' + new Date().toLocaleTimeString();
            }
            await refresh();
            LH.every(5000, () => refresh().catch((e) => { updated.textContent = 'Refresh failed: ' + e.message; }));
          };
        })();
        """#
}
