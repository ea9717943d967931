extension DashboardAssets {
    /// `core.js`: element building (text only, never HTML), the API client with the CSRF token,
    /// the hash router and shared formatting. Page scripts register in `LH.pages` before it runs.
    static let coreScript = #"""
        'use strict';
        (function () {
          const LH = window.LH;
          const csrf = document.querySelector('meta[name="csrf-token"]').getAttribute('content');
          const main = document.getElementById('main');

          // Builds an element. Children that are strings become text nodes: data is never parsed as HTML.
          LH.h = function (tag, attrs, ...kids) {
            const node = document.createElement(tag);
            for (const [key, value] of Object.entries(attrs || {})) {
              if (value === null || value === undefined || value === false) continue;
              if (key === 'text') node.textContent = String(value);
              else if (key === 'class') node.className = value;
              else if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
              else node.setAttribute(key, value === true ? '' : String(value));
            }
            LH.append(node, kids);
            return node;
          };
          LH.append = function (node, kids) {
            for (const kid of kids.flat(Infinity)) {
              if (kid === null || kid === undefined || kid === false) continue;
              node.appendChild(kid instanceof Node ? kid : document.createTextNode(String(kid)));
            }
            return node;
          };
          LH.svg = function (tag, attrs, ...kids) {
            const node = document.createElementNS('http://www.w3.org/2000/svg', tag);
            for (const [key, value] of Object.entries(attrs || {})) {
              if (key === 'text') node.textContent = String(value); else node.setAttribute(key, String(value));
            }
            LH.append(node, kids);
            return node;
          };

          LH.toast = function (message) {
            const box = document.getElementById('toast');
            box.textContent = message;
            clearTimeout(LH.toastTimer);
            LH.toastTimer = setTimeout(() => { box.textContent = ''; }, 6000);
          };

          // Calls the JSON API; state-changing calls carry the session's CSRF token.
          LH.api = async function (method, path, body) {
            const headers = { 'Accept': 'application/json' };
            if (method !== 'GET') headers['X-CSRF-Token'] = csrf;
            if (body !== undefined) headers['Content-Type'] = 'application/json';
            const response = await fetch(path, {
              method, headers, credentials: 'same-origin', cache: 'no-store',
              body: body === undefined ? undefined : JSON.stringify(body),
            });
            if (response.status === 401) { location.href = '/login'; throw new Error('logged out'); }
            let json = null;
            try { json = await response.json(); } catch (e) { json = null; }
            return { status: response.status, ok: response.ok, json: json || {} };
          };
          LH.get = async function (path) {
            const answer = await LH.api('GET', path);
            if (!answer.ok) throw new Error(answer.json.message || ('HTTP ' + answer.status));
            return answer.json;
          };

          LH.time = function (iso) {
            if (!iso) return '—';
            const d = new Date(iso);
            if (isNaN(d)) return String(iso);
            const pad = (n) => String(n).padStart(2, '0');
            return d.getFullYear() + '-' + pad(d.getMonth() + 1) + '-' + pad(d.getDate()) + ' ' + pad(d.getHours()) + ':' + pad(d.getMinutes()) + ':' + pad(d.getSeconds());
          };
          LH.ago = function (iso) {
            const ms = Date.now() - new Date(iso).getTime();
            if (isNaN(ms)) return '';
            const s = Math.round(Math.abs(ms) / 1000);
            const text = s < 60 ? s + 's' : s < 3600 ? Math.round(s / 60) + 'm' : s < 86400 ? Math.round(s / 3600) + 'h' : Math.round(s / 86400) + 'd';
            return ms >= 0 ? text + ' ago' : 'in ' + text;
          };
          LH.percent = function (rate) { return rate === null || rate === undefined ? '—' : (Math.round(rate * 1000000) / 10000) + '%'; };
          LH.ms = function (value) { return value === null || value === undefined ? '—' : value + ' ms'; };

          // The status icon of a delivery row: ✅ succeeded first time, ⚠️ retried then succeeded, ❌ failed, ⏳ waiting or in flight.
          LH.statusIcon = function (row) {
            if (row.status === 'succeeded') return row.attempts > 1 ? ['⚠️', 'retried, then succeeded'] : ['✅', 'succeeded'];
            if (row.status === 'failed') return ['❌', 'failed'];
            if (row.status === 'in_flight') return ['⏳', 'in flight'];
            if (row.status === 'retrying') return ['⏳', 'waiting to retry'];
            return ['⏳', 'pending'];
          };
          LH.icon = function (row) {
            const [glyph, label] = LH.statusIcon(row);
            return LH.h('span', { title: label }, LH.h('span', { 'aria-hidden': 'true', text: glyph }), LH.h('span', { class: 'visually-hidden', text: label }));
          };

          LH.params = function () {
            const hash = location.hash.replace(/^#\/?/, '');
            const [path, query] = hash.split('?');
            return { parts: (path || 'overview').split('/').map(decodeURIComponent), query: new URLSearchParams(query || '') };
          };
          LH.go = function (path, query) {
            const text = query && [...query.keys()].length ? path + '?' + query.toString() : path;
            if (location.hash !== '#/' + text) location.hash = '#/' + text; else LH.render();
          };

          // Timers of the page on screen (live refresh), stopped when another page opens.
          let timers = [];
          LH.every = function (ms, fn) { timers.push(setInterval(fn, ms)); };
          let generation = 0;
          LH.current = function () { const mine = generation; return () => mine === generation; };

          LH.render = async function () {
            timers.forEach(clearInterval);
            timers = [];
            generation += 1;
            const { parts, query } = LH.params();
            const name = parts[0];
            const page = LH.pages[name] || LH.pages.overview;
            for (const link of document.querySelectorAll('[data-nav]')) {
              if (link.getAttribute('data-nav') === (name === 'delivery' ? 'log' : name)) link.setAttribute('aria-current', 'page');
              else link.removeAttribute('aria-current');
            }
            main.replaceChildren();
            try {
              await page(main, parts.slice(1), query);
            } catch (error) {
              main.appendChild(LH.h('p', { class: 'error', role: 'alert', text: 'Could not load this page: ' + error.message }));
            }
            const heading = main.querySelector('h1');
            document.title = (heading ? heading.textContent + ' · ' : '') + 'loyali-hooks';
          };

          document.getElementById('logout').addEventListener('click', async () => {
            await LH.api('POST', '/logout');
            location.href = '/login';
          });
          window.addEventListener('hashchange', () => { LH.render(); main.focus({ preventScroll: true }); });
          LH.render();
        })();
        """#

    /// `login.js`: nothing the form needs; it only moves focus to the token field.
    static let loginScript = #"""
        'use strict';
        document.addEventListener('DOMContentLoaded', () => { const field = document.getElementById('token'); if (field) field.focus(); });
        """#
}
