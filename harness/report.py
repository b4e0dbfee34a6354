"""The conformance report: the terminal matrix, conformance.html, conformance.json.

Rows are scenarios grouped by protocol and first tag; columns are adapters;
each cell PASS / FAIL / n.a.  Scenarios where the adapters that ran do not
agree (one passes and another fails, or they report different outcome
classes) are listed: that is where quirks and bugs hide.
"""
import html
import json
import time

STATUS = {"pass": "PASS", "fail": "FAIL", "na": "n.a."}


def _table(rows):
    """{(protocol, group, scenario): {adapter: row}} in order, plus the scenario rows."""
    by = {}
    for r in rows:
        group = r["tags"][0] if r["tags"] else "-"
        by.setdefault((r["protocol"], group, r["scenario"]), {})[r["adapter"]] = r
    return dict(sorted(by.items()))


def _got(r):
    if r["status"] == "na":
        return "n.a."
    if r.get("crashed"):
        return "crash"
    return (r.get("outcome") or "?") + (f"/{r['reason']}" if r.get("reason") else "")


def _why(r):
    """A failed cell in a few words: the outcome when it differs, else the first check."""
    if r.get("crashed") or r.get("outcome") not in r["expected"]:
        return f"got {_got(r)}"
    return (r.get("failures") or ["?"])[0].split(":", 1)[0] + " failed"


def disagreements(rows):
    out = []
    for (proto, group, name), cells in _table(rows).items():
        ran = {a: r for a, r in cells.items() if r["status"] != "na"}
        if len(ran) < 2:
            continue
        statuses = {r["status"] for r in ran.values()}
        outcomes = {("crash" if r.get("crashed") else r.get("outcome")) for r in ran.values()}
        if len(statuses) > 1 or len(outcomes) > 1:
            out.append((name, {a: (r["status"], _got(r)) for a, r in sorted(ran.items())}))
    return out


def matrix_lines(rows, broken, adapters):
    adapters = list(adapters) or sorted({r["adapter"] for r in rows})
    table = _table(rows)
    width = max([len(k[2]) for k in table] + [20])
    lines = ["", f"mailjig conformance: {len(table)} scenarios x {len(adapters)} adapters", ""]
    lines.append(f"  {'scenario':<{width}}  " + "  ".join(f"{a:<6}" for a in adapters))
    last = None
    for (proto, group, name), cells in table.items():
        if (proto, group) != last:
            lines.append(f"[{proto} / {group}]")
            last = (proto, group)
        cols = []
        for a in adapters:
            r = cells.get(a)
            cols.append(f"{STATUS[r['status']] if r else '-':<6}")
        fails = [f"{a}: {_why(cells[a])}" for a in adapters
                 if a in cells and cells[a]["status"] == "fail"]
        lines.append(f"  {name:<{width}}  " + "  ".join(cols)
                     + (f"   ({'; '.join(fails)})" if fails else ""))
    lines.append("")
    lines.append(f"  {'totals':<{width}}  " + "  ".join(f"{a:<6}" for a in adapters))
    for st in ("pass", "fail", "na"):
        lines.append(f"  {STATUS[st]:<{width}}  " + "  ".join(
            f"{sum(1 for r in rows if r['adapter'] == a and r['status'] == st):<6}"
            for a in adapters))
    dis = disagreements(rows)
    if dis:
        lines.append("")
        lines.append("adapters disagree:")
        for name, cells in dis:
            lines.append(f"  {name}: " + ", ".join(f"{a} {st} ({got})"
                                                   for a, (st, got) in cells.items()))
    if broken:
        lines.append("")
        lines.append("broken scenario files:")
        for b in broken:
            lines.append(f"  {b['error'].strip()}")
    lines.append("")
    return lines


def write_json(path, rows, broken):
    with open(path, "w") as f:
        json.dump({"generated": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "results": rows,
                   "broken": broken, "disagreements": disagreements(rows)}, f, indent=1)


CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}
table{border-collapse:collapse;margin:1em 0}th,td{border:1px solid #ccc;padding:3px 8px;
text-align:left;vertical-align:top}th{background:#eee}
td.pass{background:#c8f0c8}td.fail{background:#f6b8b8;font-weight:bold}td.na{background:#eee;color:#777}
tr.group td{background:#dde6f4;font-weight:bold}
td.dis{outline:2px solid #e0a000}
details pre{white-space:pre-wrap;font:12px/1.3 monospace;background:#fafafa;border:1px solid #ddd;
padding:.5em;max-width:110em}
.sum{color:#555;font-size:12px}.tot td{font-weight:bold}
"""

JS = """
function applyFilter(){
  var t=document.getElementById('tag').value, p=document.getElementById('proto').value,
      s=document.getElementById('status').value;
  document.querySelectorAll('tr.sc').forEach(function(tr){
    var ok=(!t||(' '+tr.dataset.tags+' ').indexOf(' '+t+' ')>=0)&&(!p||tr.dataset.proto==p)
           &&(!s||(' '+tr.dataset.status+' ').indexOf(' '+s+' ')>=0);
    tr.style.display=ok?'':'none';});
  document.querySelectorAll('tr.group').forEach(function(g){
    var n=g.nextElementSibling, any=false;
    while(n&&!n.classList.contains('group')){if(n.style.display!='none')any=true;n=n.nextElementSibling;}
    g.style.display=any?'':'none';});
}
"""


def write_html(path, rows, broken):
    e = html.escape
    adapters = sorted({r["adapter"] for r in rows}, key=lambda a: (a != "mj", a))
    table = _table(rows)
    dis = {name for name, _ in disagreements(rows)}
    tags = sorted({t for r in rows for t in r["tags"]})
    protos = sorted({r["protocol"] for r in rows})
    out = ["<!DOCTYPE html><html><head><meta charset='utf-8'>",
           "<title>mailjig conformance</title><style>", CSS, "</style><script>", JS,
           "</script></head><body>",
           f"<h1>mailjig conformance</h1><p class='sum'>{len(table)} scenarios, "
           f"{len(adapters)} adapters, generated {e(time.strftime('%Y-%m-%d %H:%M:%S'))}. "
           "A cell with an orange frame: the adapters disagree on this scenario.</p>",
           "<p>Tag <select id='tag' onchange='applyFilter()'><option value=''>all</option>"
           + "".join(f"<option>{e(t)}</option>" for t in tags) + "</select> "
           "Protocol <select id='proto' onchange='applyFilter()'><option value=''>all</option>"
           + "".join(f"<option>{e(p)}</option>" for p in protos) + "</select> "
           "Status <select id='status' onchange='applyFilter()'><option value=''>all</option>"
           "<option value='fail'>a failure</option><option value='dis'>disagreement</option>"
           "<option value='na'>n.a.</option></select></p>",
           "<table><tr><th>scenario</th><th>tags</th>"
           + "".join(f"<th>{e(a)}</th>" for a in adapters) + "</tr>"]
    last = None
    details = []
    for (proto, group, name), cells in table.items():
        if (proto, group) != last:
            out.append(f"<tr class='group'><td colspan='{2 + len(adapters)}'>{e(proto)} / "
                       f"{e(group)}</td></tr>")
            last = (proto, group)
        any_row = next(iter(cells.values()))
        statuses = {r["status"] for r in cells.values()} | ({"dis"} if name in dis else set())
        out.append(f"<tr class='sc' data-proto='{e(proto)}' data-tags='{e(' '.join(any_row['tags']))}'"
                   f" data-status='{' '.join(sorted(statuses))}'>"
                   f"<td title='{e(any_row['summary'])}'>{e(name)}<div class='sum'>"
                   f"{e(any_row['summary'])}<br>{e(any_row['file'])}"
                   + (f"<br>source: {e(str(any_row['source']))}" if any_row.get("source") else "")
                   + f"</div></td><td>{e(', '.join(any_row['tags']))}</td>")
        for a in adapters:
            r = cells.get(a)
            if r is None:
                out.append("<td>-</td>")
                continue
            cls = r["status"] + (" dis" if name in dis else "")
            title = r.get("na") or f"expected {' or '.join(r['expected'])}, got {_got(r)}; " \
                                   f"{r['elapsed_ms']} ms"
            body = STATUS[r["status"]]
            if r["status"] != "na":
                body += f"<div class='sum'>{e(_got(r))}, {r['elapsed_ms']:.0f} ms</div>"
            if r["status"] == "fail" and r.get("detail"):
                anchor = f"d{len(details)}"
                details.append((anchor, name, a, r["detail"]))
                body += f"<details><summary>why</summary><pre>{e(r['detail'])}</pre></details>"
            out.append(f"<td class='{cls}' title='{e(title)}'>{body}</td>")
        out.append("</tr>")
    out.append("<tr class='tot'><td>totals</td><td></td>" + "".join(
        "<td>" + " / ".join(f"{sum(1 for r in rows if r['adapter'] == a and r['status'] == st)} "
                            f"{STATUS[st]}" for st in ("pass", "fail", "na")) + "</td>"
        for a in adapters) + "</tr></table>")
    if broken:
        out.append("<h2>Broken scenario files</h2><ul>"
                   + "".join(f"<li><code>{e(b['error'].strip())}</code></li>" for b in broken)
                   + "</ul>")
    out.append("</body></html>")
    with open(path, "w") as f:
        f.write("\n".join(out))
