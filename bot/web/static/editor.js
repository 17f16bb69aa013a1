// The map editor, a Telegram Mini App for staff: draw a closure's place, or an emergency's area, and send it
// to the bot.
// Every word shown comes from the server (the page, its config, its answers); this script places it as text.
// The server trusts nothing it is sent: each request carries Telegram's signed initData.
(() => {
  "use strict";
  const config = JSON.parse(document.getElementById("editor-config").textContent);
  const text = config.text;
  const tg = window.Telegram && window.Telegram.WebApp;
  // Telegram's script gives initData; without it (a browser, a stand-in) Telegram's launch parameters in
  // the address carry the same string.
  const initData =
    (tg && tg.initData) || new URLSearchParams(location.hash.slice(1)).get("tgWebAppData") || "";
  if (tg) {
    tg.ready();
    if (tg.expand) tg.expand();
  }
  const NEEDED = { point: 1, line: 2, area: 3 };  // taps before Done makes sense
  const colours = { active: "#c62828", upcoming: "#e08a00", drawn: "#1565c0" };

  const body = document.body;
  const hint = document.getElementById("hint");
  const notice = document.getElementById("notice");
  const undoButton = document.getElementById("undo");
  const doneButton = document.getElementById("done");
  const modeButtons = [...document.querySelectorAll("button[data-mode]")];
  const radiusButtons = [...document.querySelectorAll("button[data-radius]")];

  // zoomSnap: frame the municipality closely; no double-tap zoom: quick taps are points, not zooms
  const map = L.map("map", { doubleClickZoom: false, worldCopyJump: true, zoomSnap: 0.25 });
  map.fitWorld();
  if (config.tiles) {
    L.tileLayer(config.tiles.url, { attribution: config.tiles.attribution, maxZoom: 19 }).addTo(map);
  }
  const boundaries = L.geoJSON(null, {
    interactive: false,
    style: { color: "#5c6b7a", weight: 1.5, fillColor: "#dfe7ee", fillOpacity: 0.5 },
  }).addTo(map);
  const existing = L.geoJSON(null, {
    interactive: false,
    style: (feature) =>
      feature.properties.id === config.closure
        ? { color: colours.drawn, weight: 4, dashArray: "6 6", fillOpacity: 0.1 }
        : { color: colours[feature.properties.phase], weight: 4, opacity: 0.6, fillOpacity: 0.2 },
    pointToLayer: (feature, latlng) =>
      L.circle(latlng, { radius: feature.properties.radius_m || 30, interactive: false }),
  }).addTo(map);
  const drawn = L.layerGroup().addTo(map);
  window.roadbotEditor = { map };  // the Leaflet map, for tests and for debugging in a browser

  // taps: where the operator tapped; legs (line mode): the road between tap i and tap i+1, once known
  const state = { mode: config.mode, radius: config.radius, taps: [], legs: [], busy: false };

  const say = (message, kind) => {
    notice.hidden = !message;
    notice.textContent = message || "";
    notice.className = kind || "";
  };

  const post = (url, payload) =>
    fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ initData, ...payload }),
    });

  const refuse = (message) => {
    hint.textContent = "";
    say(message, "error");
    body.dataset.state = "refused";
    update();
  };

  const lonLat = (latlng) => {
    const p = latlng.wrap();
    return [Math.round(p.lng * 1e7) / 1e7, Math.round(p.lat * 1e7) / 1e7];
  };

  // One leg of the line: straight at once, along the road when the server has snapped it.
  const leg = (from, to) => {
    const part = { coords: [lonLat(from), lonLat(to)], snapped: !config.snap };
    part.ready = !config.snap
      ? Promise.resolve()
      : post(config.urls.snap, { points: part.coords })
          .then((response) => (response.ok ? response.json() : null))
          .then((answer) => {
            if (answer) {
              part.coords = answer.coordinates;
              if (answer.refused) say(text.kept_straight);
            }
          })
          .catch((error) => console.warn("the leg could not be snapped", error))
          .finally(() => {
            part.snapped = true;
            draw();
          });
    return part;
  };

  const lineCoords = () =>
    state.legs.flatMap((part, i) => (i === 0 ? part.coords : part.coords.slice(1)));

  const shape = () => {
    const taps = state.taps.map(lonLat);
    if (state.mode === "point") return { type: "Point", coordinates: taps[0] };
    if (state.mode === "line") return { type: "LineString", coordinates: lineCoords() };
    return { type: "Polygon", coordinates: [[...taps, taps[0]]] };
  };

  const latLngs = (coords) => coords.map(([lon, lat]) => [lat, lon]);

  const draw = () => {
    drawn.clearLayers();
    const style = { color: colours.drawn, weight: 6, opacity: 0.9, fillOpacity: 0.25 };
    const { mode, taps } = state;
    if (mode === "point" && taps.length) {
      L.circle(taps[0], { ...style, radius: state.radius, interactive: false }).addTo(drawn);
    } else if (mode === "line") {
      for (const part of state.legs) {
        const dashed = part.snapped ? {} : { dashArray: "4 8" };
        L.polyline(latLngs(part.coords), { ...style, ...dashed, interactive: false }).addTo(drawn);
      }
    } else if (mode === "area" && taps.length >= 2) {
      const outline = taps.length >= 3 ? L.polygon(taps, style) : L.polyline(taps, style);
      outline.options.interactive = false;
      outline.addTo(drawn);
    }
    for (const tap of taps) {
      L.circleMarker(tap, {
        radius: 9, color: "#fff", weight: 3, fillColor: colours.drawn, fillOpacity: 1,
        interactive: false, className: "tap",
      }).addTo(drawn);
    }
    update();
  };

  const update = () => {
    const open = !state.busy && !["refused", "sent", "loading"].includes(body.dataset.state);
    undoButton.disabled = !open || !state.taps.length;
    doneButton.disabled = !open || state.taps.length < NEEDED[state.mode];
    for (const button of modeButtons) {
      button.setAttribute("aria-checked", String(button.dataset.mode === state.mode));
      button.disabled = !open;
    }
    for (const button of radiusButtons) {
      button.setAttribute("aria-checked", String(Number(button.dataset.radius) === state.radius));
      button.disabled = !open;
    }
    body.dataset.mode = state.mode;
    body.dataset.taps = String(state.taps.length);
    body.dataset.pending = String(state.legs.filter((part) => !part.snapped).length);
  };

  const setMode = (mode) => {
    state.mode = mode;
    state.taps = [];
    state.legs = [];
    hint.textContent = text[`hint.${mode}`];
    say("");
    draw();
  };

  map.on("click", (event) => {
    if (["refused", "sent", "loading"].includes(body.dataset.state) || state.busy) return;
    const tap = event.latlng;
    if (state.mode === "point") state.taps = [tap];
    else {
      if (state.mode === "line" && state.taps.length) {
        state.legs.push(leg(state.taps[state.taps.length - 1], tap));
      }
      state.taps.push(tap);
    }
    if (tg && tg.HapticFeedback) tg.HapticFeedback.impactOccurred("light");
    draw();
  });

  for (const button of modeButtons) button.addEventListener("click", () => setMode(button.dataset.mode));
  for (const button of radiusButtons) {
    button.addEventListener("click", () => {
      state.radius = Number(button.dataset.radius);
      draw();
    });
  }

  undoButton.addEventListener("click", () => {
    state.taps.pop();
    if (state.mode === "line") state.legs.splice(Math.max(state.taps.length - 1, 0));
    say("");
    draw();
  });

  doneButton.addEventListener("click", async () => {
    state.busy = true;
    update();
    say(text.sending);
    body.dataset.state = "sending";
    try {
      await Promise.all(state.legs.map((part) => part.ready));
      const payload = {
        geometry: shape(),
        radius_m: state.mode === "point" ? state.radius : null,
        draft: config.draft,
        closure: config.closure,
        emergency: config.emergency,
      };
      const response = await post(config.urls.drawing, payload);
      const answer = await response.json().catch(() => ({}));
      if (response.ok) {
        body.dataset.state = "sent";
        say(answer.message || text.sent, "ok");
        if (tg) setTimeout(() => tg.close(), 700);  // the chat carries on with the drawing
      } else {
        body.dataset.state = response.status === 403 ? "refused" : "ready";
        say(answer.message || text.unavailable, "error");
      }
    } catch (error) {
      console.warn("the drawing could not be sent", error);
      body.dataset.state = "ready";
      say(text.unavailable, "error");
    } finally {
      state.busy = false;
      update();
    }
  });

  const getJson = (url) => fetch(url).then((response) => (response.ok ? response.json() : null));

  const start = async () => {
    const [session, outlines, closures] = await Promise.all([
      initData
        ? post(config.urls.session, { closure: config.closure, emergency: config.emergency }).then(async (response) => ({
            ok: response.ok,
            answer: await response.json().catch(() => ({})),
          }))
        : Promise.resolve({ ok: false, answer: { message: text["refused.no_telegram"] } }),
      getJson(config.urls.boundaries).catch(() => null),
      getJson(config.urls.closures).catch(() => null),
    ]);
    if (outlines) boundaries.addData(outlines);
    if (closures) existing.addData(closures);
    const mine = new Set((session.ok && session.answer.municipalities) || []);
    let frame = L.latLngBounds([]);
    existing.eachLayer((layer) => {
      if (layer.feature.properties.id === config.closure) frame = L.latLngBounds(layer.getBounds());
    });
    if (!frame.isValid()) {
      boundaries.eachLayer((layer) => {
        if (!mine.size || mine.has(layer.feature.id)) frame.extend(layer.getBounds());
      });
    }
    // no animation: a tap must land where the map shows it, from the first moment the page is ready
    if (frame.isValid()) map.fitBounds(frame, { padding: [12, 12], maxZoom: 17, animate: false });
    if (!session.ok) return refuse(session.answer.message || text["refused.forged"]);
    body.dataset.state = "ready";
    setMode(state.mode);
  };

  start().catch((error) => {
    console.warn("the editor could not start", error);
    refuse(text.unavailable);
  });
})();
