extension DashboardAssets {
    /// `log.js`: the delivery log (filters, keyset paging) and the Failed page (Retry all for the
    /// current filter, after showing how many deliveries it re-queues).
    static let logScript = #"""
        'use strict';
        (function () {
          const LH = window.LH = window.LH || { pages: {} };
          LH.pages = LH.pages || {};
          const FILTERS = ['status', 'pipeline', 'sink', 'event_type', 'since', 'until', 'q'];
          const SINCE = [['', 'any time'], ['15m', 'last 15 minutes'], ['1h', 'last hour'], ['24h', 'last 24 hours'], ['7d', 'last 7 days']];
          const UNTIL = [['', 'now'], ['15m', '15 minutes ago'], ['1h', '1 hour ago'], ['24h', '24 hours ago'], ['7d', '7 days ago']];

          let lists = null;
          async function choices() {
            if (!lists) {
              const [pipelines, events] = await Promise.all([LH.get('/api/pipelines'), LH.get('/api/events')]);
              const sinks = new Set();
              for (const p of pipelines.pipelines) for (const s of p.sinks) sinks.add(s.name);
              lists = { pipelines: pipelines.pipelines.map((p) => p.pipeline), sinks: [...sinks].sort(), events: events.event_types.map((e) => e.name) };
            }
            return lists;
          }

          function select(id, label, options, value) {
            return LH.h('div', {}, LH.h('label', { for: id, text: label }),
              LH.h('select', { id, name: id }, options.map(([v, text]) => LH.h('option', { value: v, selected: v === (value || ''), text }))));
          }

          async function filterForm(page, query, fixedStatus) {
            const c = await choices();
            const any = (items) => [['', 'all']].concat(items.map((x) => [x, x]));
            const form = LH.h('form', { class: 'card row', id: 'filters', role: 'search', 'aria-label': 'Filter deliveries' },
              fixedStatus ? null : select('status', 'Status', [['', 'all'], ['succeeded', '✅ succeeded'], ['failed', '❌ failed'], ['pending', '⏳ pending'], ['retrying', '⏳ retrying'], ['in_flight', '⏳ in flight']], query.get('status')),
              select('pipeline', 'Pipeline', any(c.pipelines), query.get('pipeline')),
              select('sink', 'Sink', any(c.sinks), query.get('sink')),
              select('event_type', 'Event type', any(c.events), query.get('event_type')),
              select('since', 'Active since', SINCE, query.get('since')),
              select('until', 'Active before', UNTIL, query.get('until')),
              LH.h('div', {}, LH.h('label', { for: 'q', text: 'Delivery or event id' }), LH.h('input', { id: 'q', name: 'q', type: 'search', value: query.get('q') || '', placeholder: 'whd_… or evt_…' })),
              LH.h('div', {}, LH.h('button', { type: 'submit', text: 'Apply' })),
              LH.h('div', {}, LH.h('button', { type: 'button', class: 'quiet', text: 'Clear', onclick: () => LH.go(page, new URLSearchParams()) })));
            form.addEventListener('submit', (event) => {
              event.preventDefault();
              const next = new URLSearchParams();
              for (const name of FILTERS) { const field = form.elements[name]; if (field && field.value) next.set(name, field.value); }
              LH.go(page, next);
            });
            for (const field of form.querySelectorAll('select')) field.addEventListener('change', () => form.requestSubmit());
            return form;
          }

          function apiQuery(query, extra) {
            const q = new URLSearchParams();
            for (const name of FILTERS) if (query.get(name)) q.set(name, query.get(name));
            for (const [k, v] of Object.entries(extra || {})) if (v !== null && v !== undefined) q.set(k, v);
            return q;
          }

          function table(rows) {
            const head = ['', 'Event type', 'Pipeline / sink', 'Attempts', 'Last response', 'Latency', 'Last activity', 'Delivery id'];
            const body = LH.h('tbody');
            if (!rows.length) body.appendChild(LH.h('tr', {}, LH.h('td', { colspan: head.length, class: 'muted', text: 'No deliveries match.' })));
            for (const row of rows) {
              const code = row.last_http_status !== null ? String(row.last_http_status) : (row.last_error ? 'error' : '—');
              body.appendChild(LH.h('tr', { 'data-id': row.id, 'data-status': row.status },
                LH.h('td', {}, LH.icon(row)),
                LH.h('td', {}, LH.h('a', { href: '#/delivery/' + encodeURIComponent(row.id), text: row.event_type })),
                LH.h('td', { text: row.pipeline + ' / ' + row.sink }),
                LH.h('td', { class: 'num', text: row.attempts }),
                LH.h('td', { class: 'num', title: row.last_error || '', text: code }),
                LH.h('td', { class: 'num', text: LH.ms(row.last_duration_ms) }),
                LH.h('td', { title: row.updated_at, text: LH.time(row.updated_at) }),
                LH.h('td', { class: 'mono', text: row.id })));
            }
            return LH.h('div', { class: 'table-wrap' }, LH.h('table', { id: 'deliveries' },
              LH.h('caption', { class: 'visually-hidden', text: 'Deliveries, latest activity first' }),
              LH.h('thead', {}, LH.h('tr', {}, head.map((t, i) => LH.h('th', { scope: 'col', class: i === 3 || i === 4 || i === 5 ? 'num' : '' }, i === 0 ? LH.h('span', { class: 'visually-hidden', text: 'Status' }) : t)))),
              body));
          }

          async function pagedList(main, page, query, fixedStatus) {
            const box = LH.h('div', { id: 'log-box' });
            main.append(await filterForm(page, query, fixedStatus), box);
            const cursors = [];
            let cursor = null;
            async function load() {
              const q = apiQuery(query, { limit: 50, before: cursor, status: fixedStatus || query.get('status') });
              const data = await LH.get('/api/deliveries?' + q.toString());
              const older = LH.h('button', { type: 'button', class: 'quiet', disabled: !data.next, text: 'Older →', onclick: () => { cursors.push(cursor); cursor = data.next; load(); } });
              const newer = LH.h('button', { type: 'button', class: 'quiet', disabled: cursors.length === 0, text: '← Newer', onclick: () => { cursor = cursors.pop(); load(); } });
              box.replaceChildren(table(data.deliveries), LH.h('nav', { class: 'pager', 'aria-label': 'Pages' }, newer, older,
                LH.h('span', { class: 'muted', text: 'Page ' + (cursors.length + 1) + ' · ' + data.deliveries.length + ' rows' })));
              return data;
            }
            await load();
            return { reload: load };
          }

          LH.pages.log = async function (main, parts, query) {
            main.append(LH.h('h1', { text: 'Delivery log' }));
            await pagedList(main, 'log', query, null);
          };

          LH.pages.failed = async function (main, parts, query) {
            main.append(LH.h('h1', { text: 'Failed deliveries' }),
              LH.h('p', { class: 'muted', text: 'Deliveries that used up their retry schedule. Fix the receiver, then re-queue them: each keeps its id, so receivers deduplicate.' }));
            const actions = LH.h('div', { id: 'retry-box' });
            main.append(actions);
            const list = await pagedList(main, 'failed', query, 'failed');
            const retry = LH.h('button', { type: 'button', class: 'danger', id: 'retry-all', text: 'Retry all…' });
            actions.append(retry);
            retry.addEventListener('click', async () => {
              retry.disabled = true;
              const q = apiQuery(query, { status: 'failed', limit: 10000 });
              q.delete('q'); q.delete('until');
              const data = await LH.get('/api/deliveries?' + q.toString());
              const count = data.deliveries.length + (data.next ? '+' : '');
              const confirmBox = LH.h('div', { class: 'confirm', role: 'alertdialog', 'aria-labelledby': 'confirm-text' },
                LH.h('p', { id: 'confirm-text' }, 'Re-queue ', LH.h('strong', { id: 'retry-count', text: count }), ' failed deliver' + (data.deliveries.length === 1 ? 'y' : 'ies') + ' matching the pipeline, sink, event type and time filters?'));
              const yes = LH.h('button', { type: 'button', class: 'danger', id: 'retry-confirm', text: 'Re-queue ' + count });
              const no = LH.h('button', { type: 'button', class: 'quiet', text: 'Cancel' });
              confirmBox.append(LH.h('div', { class: 'row' }, yes, no));
              actions.append(confirmBox);
              yes.focus();
              no.addEventListener('click', () => { confirmBox.remove(); retry.disabled = false; retry.focus(); });
              yes.addEventListener('click', async () => {
                yes.disabled = true;
                const body = { failed: true };
                for (const name of ['pipeline', 'sink', 'event_type', 'since']) if (query.get(name)) body[name] = query.get(name);
                const answer = await LH.api('POST', '/api/resend', body);
                confirmBox.remove();
                retry.disabled = false;
                const text = answer.ok ? 'Re-queued ' + answer.json.queued_count + ' deliveries.' : 'Retry refused: ' + (answer.json.message || answer.status);
                actions.append(LH.h('p', { role: 'status', id: 'retry-result', class: answer.ok ? 'ok' : 'error', text }));
                LH.toast(text);
                await list.reload();
              });
            });
          };
        })();
        """#
}
