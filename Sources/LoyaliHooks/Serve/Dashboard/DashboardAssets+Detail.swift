extension DashboardAssets {
    /// `detail.js`: one delivery: the envelope (pretty, with "copy exact bytes"), the headers sent
    /// (secrets masked by the server), the attempt timeline and Resend.
    static let detailScript = #"""
        'use strict';
        (function () {
          const LH = window.LH = window.LH || { pages: {} };
          LH.pages = LH.pages || {};

          function pretty(text) {
            try { return JSON.stringify(JSON.parse(text), null, 2); } catch (e) { return text; }
          }

          async function copy(text) {
            try {
              await navigator.clipboard.writeText(text);
              return true;
            } catch (e) {
              const area = LH.h('textarea', { class: 'visually-hidden', 'aria-hidden': 'true' });
              area.value = text;
              document.body.appendChild(area);
              area.select();
              const ok = document.execCommand('copy');
              area.remove();
              return ok;
            }
          }

          function timeline(detail) {
            const list = LH.h('ol', { class: 'timeline', id: 'attempts' });
            for (const a of detail.attempt_log) {
              const outcome = a.next_attempt_at ? 'retry' : (a.error_class || (a.http_status !== null && a.http_status >= 300) ? 'failed' : 'succeeded');
              const what = a.http_status !== null ? 'HTTP ' + a.http_status : (a.error_class || 'accepted');
              const item = LH.h('li', { class: outcome, 'data-attempt': a.attempt },
                LH.h('strong', { text: 'Attempt ' + a.attempt + ' · ' + what }),
                LH.h('span', { class: 'muted', text: ' — ' + LH.time(a.started_at) + ', ' + a.duration_ms + ' ms' }));
              if (a.error) item.append(LH.h('div', { class: 'error', text: a.error }));
              if (a.response_snippet) item.append(LH.h('pre', { class: 'snippet', text: a.response_snippet }));
              if (a.next_attempt_at) item.append(LH.h('div', { class: 'muted', text: 'Retry scheduled for ' + LH.time(a.next_attempt_at) }));
              list.append(item);
            }
            if (detail.next_attempt_at) {
              list.append(LH.h('li', { class: 'due', id: 'next-due' }, LH.h('strong', { text: 'Next attempt due ' + LH.time(detail.next_attempt_at) }),
                LH.h('span', { class: 'muted', text: ' (' + LH.ago(detail.next_attempt_at) + ')' })));
            } else if (detail.status === 'in_flight') {
              list.append(LH.h('li', { class: 'due', text: 'Being sent now…' }));
            }
            if (!list.children.length) list.append(LH.h('li', { class: 'due', text: 'No attempt yet.' }));
            return list;
          }

          LH.pages.delivery = async function (main, parts) {
            const id = parts[0] || '';
            const alive = LH.current();
            const path = '/api/deliveries/' + encodeURIComponent(id);
            const [detail, sent] = await Promise.all([LH.get(path), LH.get(path + '/request')]);
            const [glyph, label] = LH.statusIcon(detail);
            const facts = LH.h('dl', { class: 'facts', id: 'facts' });
            const fact = (name, value, mono) => facts.append(LH.h('dt', { text: name }), LH.h('dd', { class: mono ? 'mono' : '', text: value }));
            const statusLine = LH.h('p', { id: 'status-line' }, LH.h('span', { 'aria-hidden': 'true', text: glyph + ' ' }), label, ' · ' + detail.attempts + ' attempt' + (detail.attempts === 1 ? '' : 's'));
            fact('Delivery id', detail.id, true);
            fact('Event id', detail.event_id, true);
            fact('Event type', detail.event_type);
            fact('Pipeline / sink', detail.pipeline + ' / ' + detail.sink);
            fact('Target', sent.target || '—', true);
            fact('Created', LH.time(detail.created_at));
            fact('Last activity', LH.time(detail.updated_at));
            if (detail.last_error) fact('Last error', detail.last_error);

            const resend = LH.h('button', { type: 'button', id: 'resend', text: 'Resend' });
            const resendNote = LH.h('span', { role: 'status', id: 'resend-status', class: 'muted' });
            const timelineBox = LH.h('div', {}, timeline(detail));
            resend.addEventListener('click', async () => {
              resend.disabled = true;
              const before = detail.attempts;
              const answer = await LH.api('POST', path + '/resend');
              if (!answer.ok) { resendNote.textContent = 'Not queued: ' + (answer.json.message || answer.status); resend.disabled = false; return; }
              resendNote.textContent = 'Queued; waiting for the new attempt…';
              const started = Date.now();
              const poll = setInterval(async () => {
                if (!alive() || Date.now() - started > 60000) { clearInterval(poll); resend.disabled = false; return; }
                const fresh = await LH.get(path);
                timelineBox.replaceChildren(timeline(fresh));
                if (fresh.attempts > before && fresh.status !== 'in_flight' && fresh.status !== 'pending') {
                  clearInterval(poll);
                  resend.disabled = false;
                  const last = fresh.attempt_log[fresh.attempt_log.length - 1];
                  resendNote.textContent = 'Attempt ' + last.attempt + ' done: ' + (last.http_status !== null ? 'HTTP ' + last.http_status : (last.error_class || 'accepted'));
                  statusLine.replaceChildren(LH.h('span', { 'aria-hidden': 'true', text: LH.statusIcon(fresh)[0] + ' ' }), LH.statusIcon(fresh)[1], ' · ' + fresh.attempts + ' attempts');
                }
              }, 700);
            });

            const bytes = sent.body;
            const copyButton = LH.h('button', { type: 'button', class: 'quiet', id: 'copy-bytes', text: 'Copy exact bytes' });
            const copyNote = LH.h('span', { role: 'status', class: 'muted' });
            copyButton.addEventListener('click', async () => { copyNote.textContent = (await copy(bytes)) ? 'Copied ' + sent.body_bytes + ' bytes.' : 'Copy failed; select the raw body below.'; });
            const raw = LH.h('details', {}, LH.h('summary', { text: 'Exact bytes (' + sent.body_bytes + ' bytes, as signed)' }), LH.h('pre', { id: 'raw-body', text: bytes }));

            const headers = LH.h('table', { id: 'headers' }, LH.h('caption', { class: 'visually-hidden', text: 'Headers sent' }),
              LH.h('thead', {}, LH.h('tr', {}, LH.h('th', { scope: 'col', text: 'Header' }), LH.h('th', { scope: 'col', text: 'Value' }))),
              LH.h('tbody', {}, (sent.headers || []).map((h) => LH.h('tr', {}, LH.h('td', { class: 'mono', text: h.name }), LH.h('td', { class: 'mono', text: h.value })))));

            main.append(
              LH.h('p', {}, LH.h('a', { href: '#/log', text: '← Delivery log' })),
              LH.h('h1', { text: detail.event_type + ' → ' + detail.pipeline + '/' + detail.sink }),
              statusLine,
              LH.h('div', { class: 'row center' }, resend, resendNote),
              LH.h('div', { class: 'row' },
                LH.h('section', { class: 'card grow', 'aria-labelledby': 'h-facts' }, LH.h('h2', { id: 'h-facts', text: 'Delivery' }), facts),
                LH.h('section', { class: 'card grow', 'aria-labelledby': 'h-attempts' }, LH.h('h2', { id: 'h-attempts', text: 'Attempts' }), timelineBox)),
              LH.h('section', { class: 'card', 'aria-labelledby': 'h-envelope' }, LH.h('h2', { id: 'h-envelope', text: 'Envelope' }),
                LH.h('div', { class: 'row center' }, copyButton, copyNote), LH.h('pre', { id: 'envelope', text: pretty(bytes) }), raw),
              LH.h('section', { class: 'card', 'aria-labelledby': 'h-headers' }, LH.h('h2', { id: 'h-headers', text: 'Headers sent' }),
                sent.headers ? LH.h('div', { class: 'table-wrap' }, headers) : LH.h('p', { class: 'muted', text: 'This pipeline or sink is no longer configured.' }),
                LH.h('p', { class: 'muted', text: 'Signatures are masked; configured headers show their ${VAR} references, never the values.' })));
          };
        })();
        """#
}
