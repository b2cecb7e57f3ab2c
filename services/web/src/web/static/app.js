// The playground's live page: one state per server-sent event, drawn whole each time.
"use strict";

const SVG = "http://www.w3.org/2000/svg";
const P = { x: 20, w: 190, h: 54, gap: 14 };        // partition boxes
const G = { x: 470, w: 420, head: 52, row: 36, gap: 18 };  // group boxes and member rows

const esc = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const num = (n) => (n === null || n === undefined ? "-" : n.toLocaleString("en"));
const hhmmss = (iso) => new Date(iso).toISOString().slice(11, 19);

let clients = {};
const colour = (c) => (clients[c] ? clients[c].colour : "#999");
// The terminal's mark as a dot of its colour: browsers without a colour-emoji font still show it.
const dot = (c) => `<span class="dot" style="background:${colour(c)}" title="${esc(clients[c] ? clients[c].mark : "")}"></span>`;
const who = (c) => (c === null ? "nobody" : `${dot(c)}<span class="client" style="color:${colour(c)}">${esc(c)}</span>`);

function el(name, attrs, parent) {
  const node = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (parent) parent.appendChild(node);
  return node;
}

function text(parent, x, y, content, cls) {
  const t = el("text", { x, y }, parent);
  if (cls) t.setAttribute("class", cls);
  t.textContent = content;
  return t;
}

function about(g) {
  const n = g.members.length;
  return n === 0 ? "no members" : n === 1 ? "1 member: sees every message" : `${n} members share the partitions`;
}

function stateLabel(g) {
  // librdkafka cannot name KIP-848's transitional states (Assigning, Reconciling).
  return g.protocol === "Consumer" && g.state === "Unknown" ? "Assigning/Reconciling" : g.state;
}

function drawDiagram(svg, snap) {
  svg.replaceChildren();
  const parts = snap.partitions;
  const groups = snap.groups;
  const pTop = (i) => 10 + i * (P.h + P.gap);
  let y = 10;
  const memberY = {};  // group/client -> y of the member's row centre
  const boxes = groups.map((g) => {
    const height = G.head + Math.max(g.members.length, 1) * G.row + 8;
    const box = { g, y, height };
    g.members.forEach((m, i) => { memberY[`${g.group_id}/${m.client_id}`] = y + G.head + i * G.row + G.row / 2 - 2; });
    y += height + G.gap;
    return box;
  });
  const height = Math.max(y, pTop(parts.length)) + 4;
  svg.setAttribute("viewBox", `0 0 ${G.x + G.w + 20} ${height}`);
  svg.setAttribute("width", G.x + G.w + 20);
  svg.setAttribute("height", height);

  // Edges first, under the boxes.
  for (const g of groups) {
    for (const m of g.members) {
      for (const p of m.partitions) {
        const i = parts.findIndex((x) => x.partition === p);
        if (i < 0) continue;
        const y1 = pTop(i) + P.h / 2, y2 = memberY[`${g.group_id}/${m.client_id}`];
        const x1 = P.x + P.w, x2 = G.x + 14, mid = (x1 + x2) / 2;
        el("path", {
          class: "edge", d: `M${x1},${y1} C${mid},${y1} ${mid},${y2} ${x2},${y2}`,
          stroke: colour(m.client_id), "data-group": g.group_id, "data-client": m.client_id,
          "data-partition": p,
        }, svg);
      }
    }
  }
  parts.forEach((p, i) => {
    const box = el("g", { class: "partition", "data-partition": p.partition }, svg);
    el("rect", { x: P.x, y: pTop(i), width: P.w, height: P.h, rx: 6 }, box);
    text(box, P.x + 12, pTop(i) + 22, `partition ${p.partition}`, "title");
    const rate = p.rate === null ? "" : ` · ${p.rate.toFixed(1)} msg/s`;
    text(box, P.x + 12, pTop(i) + 42, `end offset ${num(p.end_offset)}${rate}`, "small");
  });
  for (const { g, y: top, height: h } of boxes) {
    const box = el("g", {
      class: "group", "data-group": g.group_id, "data-state": g.state, "data-coordinator": g.coordinator ?? "",
    }, svg);
    el("rect", { x: G.x, y: top, width: G.w, height: h, rx: 8 }, box);
    // Long ids (the tests' are) are cut to fit; the tooltip has the whole one.
    const id = g.group_id.length > 40 ? `${g.group_id.slice(0, 39)}…` : g.group_id;
    const coordinator = snap.brokers.length > 1 ? ` · coordinator ${g.coordinator ?? "-"}` : "";
    text(box, G.x + 12, top + 20, `${id} · ${stateLabel(g)}${coordinator}`, "title");
    el("title", {}, box).textContent = g.group_id;
    text(box, G.x + 12, top + 40, `${about(g)} · ${g.protocol}, ${g.assignor || "-"} · lag ${num(g.lag)}`, "small");
    if (g.members.length === 0) {
      text(box, G.x + 24, top + G.head + 20, "nobody reads these partitions", "small empty");
    }
    g.members.forEach((m, i) => {
      const my = top + G.head + i * G.row;
      const row = el("g", {
        class: "member", "data-group": g.group_id, "data-client": m.client_id,
        "data-partitions": m.partitions.join(","), "data-static": m.instance_id ? "yes" : "no",
      }, box);
      el("rect", { x: G.x + 14, y: my, width: G.w - 28, height: G.row - 6, rx: 6, stroke: colour(m.client_id) }, row);
      el("circle", { cx: G.x + 30, cy: my + 15, r: 6, fill: colour(m.client_id) }, row);
      const owns = m.partitions.length ? `owns ${m.partitions.join(", ")}` : "owns nothing";
      const stat = m.instance_id ? ` · static (${m.instance_id})` : "";
      text(row, G.x + 44, my + 20, `${m.client_id} · ${owns}${stat}`);
    });
  }
}

function spark(values) {
  if (!values || values.length < 2) return "";
  const w = 90, h = 20, top = Math.max(1, ...values);
  const pts = values.map((v, i) => `${(i * w / (values.length - 1)).toFixed(1)},${(h - 1 - v * (h - 2) / top).toFixed(1)}`);
  return `<svg class="spark" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}"><title>lag over the last minute, max ${top}</title><polyline points="${pts.join(" ")}"/></svg>`;
}

function drawOffsets(table, snap, history) {
  const groups = snap.groups;
  let head = `<tr><th class="left" rowspan="2">partition</th><th rowspan="2">end offset</th><th rowspan="2">msgs/s</th>`;
  head += groups.map((g) => `<th class="group left" colspan="4">${esc(g.group_id)}</th>`).join("") + "</tr><tr>";
  head += groups.map(() => `<th class="group">committed</th><th>lag</th><th class="left">last minute</th><th class="left">owner</th>`).join("") + "</tr>";
  const rows = snap.partitions.map((p) => {
    const cells = groups.map((g) => {
      const o = g.offsets.find((x) => x.partition === p.partition) || {};
      return `<td class="first">${num(o.committed)}</td><td data-lag="${o.lag}">${num(o.lag)}</td>`
        + `<td class="left">${spark(history[`${g.group_id}/${p.partition}`])}</td><td class="left">${who(o.owner ?? null)}</td>`;
    }).join("");
    const rate = p.rate === null ? "-" : p.rate.toFixed(1);
    return `<tr data-partition="${p.partition}"><td class="left">${p.partition}</td><td>${num(p.end_offset)}</td><td>${rate}</td>${cells}</tr>`;
  });
  table.innerHTML = head + rows.join("");
}

function drawOutput(table, snap) {
  const parts = snap.output || [];
  document.getElementById("output-section").hidden = parts.length === 0;
  document.getElementById("output-topic").textContent = `${snap.topic}.processed`;
  const rows = parts.map((o) => {
    const gap = Math.max(o.end_offset - o.stable_offset, 0);
    return `<tr data-partition="${o.partition}" data-open="${gap > 0 ? "yes" : "no"}"><td class="left">${o.partition}</td>`
      + `<td>${num(o.stable_offset)}</td><td>${num(o.end_offset)}</td><td>${num(gap)}</td>`
      + `<td class="left">${gap > 0 ? "transaction open" : ""}</td></tr>`;
  });
  table.innerHTML = `<tr><th class="left">partition</th><th>last stable</th><th>high watermark</th>`
    + `<th>read_uncommitted only</th><th></th></tr>` + rows.join("");
}

function drawShares(table, snap) {
  const groups = snap.share_groups || [];
  document.getElementById("share-section").hidden = groups.length === 0;
  const head = `<tr><th class="left">share group</th><th class="left">member</th><th class="left">reads</th>`
    + `<th>accepted</th><th>released</th><th>rejected</th><th>redelivered</th></tr>`;
  const rows = groups.flatMap((g) => {
    const about = `${esc(g.group_id)} <span class="dim">lock ${g.lock_duration_ms === null ? "?" : num(g.lock_duration_ms)} ms,`
      + ` limit ${g.delivery_count_limit === null ? "?" : g.delivery_count_limit}</span>`;
    return g.members.map((m, i) =>
      `<tr data-share-group="${esc(g.group_id)}" data-member="${esc(m.client_id)}" data-accepted="${m.accepted}">`
      + `<td class="left">${i === 0 ? about : ""}</td><td class="left">${dot(m.client_id)} ${esc(m.client_id)}</td>`
      + `<td class="left">${m.partitions.join(" ") || "-"}</td><td>${num(m.accepted)}</td><td>${num(m.released)}</td>`
      + `<td>${num(m.rejected)}</td><td>${num(m.redelivered)}</td></tr>`);
  });
  table.innerHTML = head + rows.join("");
}

function drawBrokers(span, snap) {
  // Only a cluster has brokers worth watching: each one up or down.
  span.innerHTML = snap.brokers.length < 2 ? "" : "brokers " + snap.brokers.map((b) =>
    `<span class="broker ${b.up ? "up" : "down"}" data-broker="${b.broker_id}" data-up="${b.up}">${b.broker_id} ${b.up ? "up" : "down"}</span>`).join(" ");
  document.getElementById("failovers").hidden = snap.brokers.length < 2;
}

function drawTimeline(table, snap) {
  const rebalances = snap.rebalances.map((r) => {
    const moved = r.moves.length === 0 ? "no partition changed owner"
      : r.moves.map((m) => `p${m.partition} ${who(m.from)} → ${who(m.to)}`).join(", ");
    return [r.time, `<tr data-group="${esc(r.group_id)}"><td class="left">${hhmmss(r.time)}</td><td class="left">${esc(r.group_id)}</td><td class="left">${moved}</td></tr>`];
  });
  // Brokers down and up, leaders and coordinators moved: the cluster's own timeline.
  const handovers = snap.handovers.map((h) => [h.time,
    `<tr class="handover" data-kind="${esc(h.kind)}" data-of="${esc(h.of)}"><td class="left">${hhmmss(h.time)}</td><td class="left dim">cluster</td><td class="left">${esc(h.text)}</td></tr>`]);
  const rows = rebalances.concat(handovers).sort((a, b) => (a[0] < b[0] ? 1 : a[0] > b[0] ? -1 : 0)).map((r) => r[1]);
  table.innerHTML = `<tr><th class="left">time (UTC)</th><th class="left">group</th><th class="left">moved</th></tr>`
    + (rows.length ? rows.join("") : `<tr><td class="left dim" colspan="3">none seen yet</td></tr>`);
}

function drawLedger(rows) {
  document.getElementById("ledger-section").hidden = rows.length === 0;
  if (rows.length === 0) return;
  document.getElementById("ledger-run").textContent = `(run of ${rows[0].run})`;
  const checks = rows.filter((r) => r.fault !== undefined);
  const end = rows.find((r) => r.done);
  const cells = ["messages", "lost", "new_duplicates", "allowed", "recovered_s"];
  document.getElementById("ledger").innerHTML =
    `<tr><th class="left">fault</th><th class="left">group</th><th>messages</th><th>lost</th><th>new duplicates</th><th>allowed</th><th>recovered (s)</th><th></th></tr>`
    + checks.map((r) => `<tr class="${r.ok ? "ok" : "broken"}" data-fault="${esc(r.fault)}" data-group="${esc(r.group)}">`
      + `<td class="left">${esc(r.fault)}</td><td class="left">${esc(r.group)}</td>`
      + cells.map((c) => `<td data-${c.replace("_", "-")}="${r[c] ?? ""}">${r[c] === null ? ""
        : c === "recovered_s" ? r[c].toFixed(1) : num(r[c])}</td>`).join("")
      + `<td>${r.ok ? "✓" : "✗"}</td></tr>`).join("")
    + (end ? "" : `<tr><td class="left dim" colspan="8">the drills are running…</td></tr>`);
  const verdict = document.getElementById("ledger-verdict");
  verdict.className = end ? (end.ok ? "ok" : "broken") : "dim";
  verdict.textContent = !end ? "" : (end.read_back ? `Topic read back: ${end.read_back}. ` : "")
    + (end.ok ? "All promises kept." : `Promises broken. ${(end.problems || []).join("; ")}`);
}

function drawErrors(errors) {
  document.getElementById("errors").innerHTML = errors
    .map((e) => `<li data-kind="${esc(e.kind)}">${esc(e.text)}</li>`).join("");
}

function draw(state) {
  clients = state.clients;
  document.body.classList.toggle("stale", state.stale);
  drawErrors(state.errors);
  drawLedger(state.ledger || []);
  const snap = state.snapshot;
  document.getElementById("updated").textContent = state.updated
    ? `updated ${hhmmss(state.updated)} UTC${state.stale ? " (stale)" : ""}` : "waiting for the broker…";
  if (!snap) return;
  document.getElementById("topic").textContent = `topic ${snap.topic} · ${snap.partitions.length} partitions`;
  drawBrokers(document.getElementById("brokers"), snap);
  drawDiagram(document.getElementById("diagram"), snap);
  drawOffsets(document.getElementById("offsets"), snap, state.lag_history);
  drawShares(document.getElementById("shares"), snap);
  drawOutput(document.getElementById("output"), snap);
  drawTimeline(document.getElementById("timeline"), snap);
}

// EventSource reconnects by itself: the page recovers when the service comes back.
const source = new EventSource("/events");
source.onmessage = (event) => draw(JSON.parse(event.data));
source.onerror = () => drawErrors([{ kind: "web", text: "the web service does not answer: reconnecting…" }]);
