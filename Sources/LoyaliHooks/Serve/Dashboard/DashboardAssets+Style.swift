extension DashboardAssets {
    /// `app.css`: system fonts only, light and dark, visible focus, colour never the only signal.
    static let style = #"""
        :root { --bg:#f6f7f9; --card:#fff; --fg:#1b1f24; --muted:#5b6470; --line:#d9dde3; --accent:#2f5bd3;
          --ok:#17803d; --okbg:#e3f5e9; --bad:#b42318; --badbg:#fde8e7; --warn:#9a6700; --warnbg:#fff4d6; --pend:#5b6470;
          --s:#2e9e57; --r:#d39b1b; --f:#d1413a; --p50:#2f5bd3; --p95:#a23bc4; }
        @media (prefers-color-scheme: dark) { :root { --bg:#111418; --card:#1a1f25; --fg:#e6e9ed; --muted:#9aa4b1; --line:#2c333c;
          --accent:#7ea2ff; --ok:#5fd08a; --okbg:#12301d; --bad:#ff8a80; --badbg:#3a1614; --warn:#f2c14e; --warnbg:#33290f; } }
        * { box-sizing: border-box; }
        body { margin:0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; background:var(--bg); color:var(--fg); }
        code, pre, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 13px; }
        a { color: var(--accent); }
        :focus-visible { outline: 3px solid var(--accent); outline-offset: 2px; }
        main:focus { outline: none; }
        .skip { position:absolute; left:-999px; top:0; background:var(--card); padding:8px; z-index:10; }
        .skip:focus { left:8px; }
        .top { display:flex; align-items:center; gap:16px; padding:10px 24px; background:var(--card); border-bottom:1px solid var(--line); flex-wrap:wrap; }
        .brand { font-size:20px; } .brand-name { font-weight:700; margin-right:12px; }
        .top nav ul { display:flex; gap:4px; list-style:none; margin:0; padding:0; flex-wrap:wrap; }
        .top nav a { display:block; padding:6px 12px; border-radius:6px; text-decoration:none; color:var(--fg); }
        .top nav a[aria-current="page"] { background:var(--accent); color:#fff; }
        .top #logout { margin-left:auto; }
        main { padding:20px 24px 48px; max-width:1400px; margin:0 auto; }
        h1 { font-size:22px; margin:4px 0 16px; } h2 { font-size:17px; margin:24px 0 10px; } h3 { font-size:15px; margin:14px 0 6px; }
        .muted { color:var(--muted); }
        .card { background:var(--card); border:1px solid var(--line); border-radius:10px; padding:16px; margin-bottom:16px; }
        .row { display:flex; gap:16px; flex-wrap:wrap; align-items:flex-start; }
        form.row, .row.end { align-items:flex-end; }
        .row.center { align-items:center; margin-bottom:12px; }
        figure { margin:0; }
        .card > h2:first-child, figure > h2:first-child { margin-top:0; }
        .grow { flex:1 1 420px; min-width:0; }
        .fields { display:grid; grid-template-columns: repeat(auto-fill, minmax(240px,1fr)); gap:12px 16px; align-items:start; margin-bottom:12px; }
        .fields input, .fields select { width:100%; }
        .fields .muted { font-size:12px; margin-top:2px; }
        table { border-collapse:collapse; width:100%; background:var(--card); }
        th, td { text-align:left; padding:7px 10px; border-bottom:1px solid var(--line); vertical-align:top; }
        th { font-size:12px; text-transform:uppercase; letter-spacing:.03em; color:var(--muted); font-weight:600; }
        tbody th { font-size:inherit; text-transform:none; letter-spacing:0; color:inherit; }
        td.num, th.num { text-align:right; font-variant-numeric: tabular-nums; }
        tbody tr:hover { background: color-mix(in srgb, var(--accent) 6%, transparent); }
        .table-wrap { overflow-x:auto; border:1px solid var(--line); border-radius:10px; }
        .pill { display:inline-block; padding:1px 8px; border-radius:999px; font-size:12px; font-weight:600; white-space:nowrap; }
        .good { color:var(--ok); background:var(--okbg); } .bad { color:var(--bad); background:var(--badbg); }
        .warn { color:var(--warn); background:var(--warnbg); } .na { color:var(--muted); background:transparent; border:1px solid var(--line); }
        td.health-good { box-shadow: inset 4px 0 var(--ok); } td.health-bad { box-shadow: inset 4px 0 var(--bad); }
        .kpis { display:grid; grid-template-columns: repeat(auto-fit, minmax(150px,1fr)); gap:12px; margin-bottom:16px; }
        .kpi { background:var(--card); border:1px solid var(--line); border-radius:10px; padding:12px 14px; }
        .kpi .v { font-size:24px; font-weight:700; font-variant-numeric: tabular-nums; } .kpi .l { color:var(--muted); font-size:12px; text-transform:uppercase; }
        label { display:block; font-size:13px; font-weight:600; margin-bottom:4px; }
        input, select, textarea, button { font:inherit; color:inherit; }
        input[type=text], input[type=search], input[type=password], input[type=url], select, textarea {
          background:var(--card); border:1px solid var(--line); border-radius:6px; padding:6px 8px; min-width:140px; }
        textarea { width:100%; min-height:90px; }
        button { background:var(--accent); color:#fff; border:0; border-radius:6px; padding:7px 14px; cursor:pointer; font-weight:600; }
        button.quiet { background:transparent; color:var(--fg); border:1px solid var(--line); }
        button.danger { background:var(--bad); }
        button:disabled { opacity:.55; cursor:default; }
        fieldset { border:1px solid var(--line); border-radius:8px; margin:0 0 12px; padding:8px 12px; }
        legend { font-weight:600; font-size:13px; padding:0 4px; }
        .checks { display:grid; grid-template-columns: repeat(auto-fill, minmax(220px,1fr)); gap:2px 12px; }
        .checks label { font-weight:400; display:flex; gap:6px; align-items:center; margin:0; }
        pre { background:var(--bg); border:1px solid var(--line); border-radius:8px; padding:10px; overflow:auto; max-height:480px; white-space:pre-wrap; word-break:break-word; margin:0; }
        .error { color:var(--bad); } .ok { color:var(--ok); }
        .diag { margin:4px 0; padding:6px 8px; border-radius:6px; background:var(--badbg); color:var(--bad); }
        .diag.warning { background:var(--warnbg); color:var(--warn); }
        .timeline { list-style:none; padding:0; margin:0; border-left:3px solid var(--line); }
        .timeline li { position:relative; padding:4px 0 12px 18px; }
        .timeline li::before { content:""; position:absolute; left:-8px; top:9px; width:13px; height:13px; border-radius:50%; background:var(--muted); }
        .timeline li.succeeded::before { background:var(--ok); } .timeline li.retry::before { background:var(--r); } .timeline li.failed::before { background:var(--bad); }
        .timeline li.due::before { background:var(--card); border:2px dashed var(--muted); }
        .chart { width:100%; height:auto; display:block; }
        .chart text { fill:var(--muted); font-size:11px; }
        .chart .grid { stroke:var(--line); stroke-width:1; }
        .legend { display:flex; gap:14px; font-size:12px; color:var(--muted); flex-wrap:wrap; margin:4px 0; }
        .sw { display:inline-block; width:10px; height:10px; border-radius:2px; margin-right:4px; vertical-align:middle; }
        .sw.s { background:var(--s); } .sw.r { background:var(--r); } .sw.f { background:var(--f); } .sw.p50 { background:var(--p50); } .sw.p95 { background:var(--p95); }
        .bar-s { fill:var(--s); } .bar-r { fill:var(--r); } .bar-f { fill:var(--f); }
        .line-p50 { stroke:var(--p50); fill:none; stroke-width:2; } .line-p95 { stroke:var(--p95); fill:none; stroke-width:2; }
        #toast { position:fixed; right:20px; bottom:20px; max-width:420px; }
        #toast:not(:empty) { background:var(--fg); color:var(--bg); padding:10px 14px; border-radius:8px; box-shadow:0 4px 16px rgba(0,0,0,.25); }
        .confirm { border:2px solid var(--bad); border-radius:8px; padding:12px; margin:12px 0; background:var(--badbg); }
        .pager { display:flex; gap:8px; align-items:center; margin-top:10px; }
        .result { margin-top:8px; }
        .sink-test { display:flex; gap:8px; align-items:flex-end; flex-wrap:wrap; }
        dl.facts { display:grid; grid-template-columns: max-content 1fr; gap:4px 16px; margin:0; }
        dl.facts dt { color:var(--muted); } dl.facts dd { margin:0; word-break:break-all; }
        .login main { max-width:460px; margin:10vh auto; }
        .login-card input[type=password] { width:100%; margin-bottom:12px; }
        .visually-hidden { position:absolute; width:1px; height:1px; overflow:hidden; clip:rect(0 0 0 0); white-space:nowrap; }
        """#
}
