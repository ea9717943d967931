extension DashboardAssets {
    /// `routes.js`: every pipeline with its file and line, filter, steps and sinks (target and retry
    /// schedule), and a Test button per sink that sends the catalogue's sample and shows the answer.
    static let routesScript = #"""
        'use strict';
        (function () {
          const LH = window.LH = window.LH || { pages: {} };
          LH.pages = LH.pages || {};

          function resultView(answer) {
            if (!answer.ok) return LH.h('p', { class: 'error', role: 'alert', text: 'Not sent: ' + (answer.json.message || ('HTTP ' + answer.status)) });
            return LH.h('ul', { class: 'result' }, answer.json.results.map((r) => {
              const what = r.http_status !== undefined ? 'HTTP ' + r.http_status : r.error_class ? r.error_class + ': ' + r.error : 'accepted';
              return LH.h('li', { class: r.ok ? 'ok' : 'error', 'data-ok': String(r.ok) },
                LH.h('span', { 'aria-hidden': 'true', text: r.ok ? '✅ ' : '❌ ' }), r.sink + ' → ' + what + ' in ' + r.duration_ms + ' ms',
                r.response ? LH.h('pre', { class: 'snippet', text: r.response }) : null);
            }));
          }

          function sinkRow(pipeline, sink, index) {
            const id = 'ev-' + index;
            const picker = LH.h('select', { id, class: 'event-picker' }, pipeline.event_types.map((name) => LH.h('option', { value: name, text: name })));
            const out = LH.h('div', { role: 'status', 'aria-live': 'polite', class: 'test-result' });
            const button = LH.h('button', { type: 'button', class: 'test-button', 'data-sink': sink.name, text: 'Test' });
            button.addEventListener('click', async () => {
              button.disabled = true;
              out.replaceChildren(LH.h('span', { class: 'muted', text: 'Sending a sample ' + picker.value + '…' }));
              try {
                const answer = await LH.api('POST', '/api/pipelines/' + encodeURIComponent(pipeline.pipeline) + '/test', { event: picker.value, sinks: [sink.name] });
                out.replaceChildren(resultView(answer));
              } finally { button.disabled = false; }
            });
            return LH.h('tr', { 'data-sink': sink.name },
              LH.h('th', { scope: 'row', text: sink.name }),
              LH.h('td', { text: sink.type }),
              LH.h('td', { class: 'mono', text: sink.target }),
              LH.h('td', { class: 'mono', text: (sink.retry || []).join(', ') || '—' }),
              LH.h('td', {}, LH.h('div', { class: 'sink-test' },
                LH.h('div', {}, LH.h('label', { for: id, text: 'Event type' }), picker), button), out));
          }

          LH.pages.routes = async function (main) {
            const data = await LH.get('/api/pipelines');
            main.append(LH.h('h1', { text: 'Routes' }),
              LH.h('p', { class: 'muted', text: 'Configuration generation ' + data.generation + '. Test sends the catalogue\'s realistic sample through the pipeline\'s steps and signing to one sink, now; nothing is written to the delivery log.' }));
            let index = 0;
            for (const p of data.pipelines) {
              const table = LH.h('table', {}, LH.h('caption', { class: 'visually-hidden', text: 'Sinks of ' + p.pipeline }),
                LH.h('thead', {}, LH.h('tr', {}, ['Sink', 'Type', 'Target', 'Retry schedule', 'Test'].map((t) => LH.h('th', { scope: 'col', text: t })))),
                LH.h('tbody', {}, p.sinks.map((s) => sinkRow(p, s, index++))));
              main.append(LH.h('section', { class: 'card pipeline', 'data-pipeline': p.pipeline, 'aria-labelledby': 'p-' + index },
                LH.h('h2', { id: 'p-' + index, text: p.pipeline }),
                p.description ? LH.h('p', { text: p.description }) : null,
                LH.h('dl', { class: 'facts' },
                  LH.h('dt', { text: 'File' }), LH.h('dd', { class: 'mono', text: p.file + (p.line ? ':' + p.line : '') }),
                  LH.h('dt', { text: 'Source' }), LH.h('dd', { class: 'mono', text: p.source }),
                  LH.h('dt', { text: 'Filter' }), LH.h('dd', { text: p.event_types.join(', ') || 'nothing' }),
                  LH.h('dt', { text: 'Steps' }), LH.h('dd', { text: p.steps.join(' → ') || 'none' }),
                  LH.h('dt', { text: 'Signing' }), LH.h('dd', { text: p.signing || 'unsigned' })),
                LH.h('h3', { text: 'Sinks' }), LH.h('div', { class: 'table-wrap' }, table)));
            }
          };
        })();
        """#
}
