// The map page: draws the closures the server sends (texts already in the reader's language) and keeps
// them fresh. Every word shown comes from the server; this script only places it, always as text.
(() => {
  "use strict";
  const config = JSON.parse(document.getElementById("map-config").textContent);
  const colours = { active: "#c62828", upcoming: "#e08a00" };
  const map = L.map("map", { worldCopyJump: true });
  map.fitWorld();
  if (config.tiles) {
    L.tileLayer(config.tiles.url, { attribution: config.tiles.attribution, maxZoom: 19 }).addTo(map);
  }
  const boundaries = L.geoJSON(null, {
    interactive: false,
    style: { color: "#5c6b7a", weight: 1.5, fillColor: "#dfe7ee", fillOpacity: 0.6 },
  }).addTo(map);
  const closures = L.layerGroup().addTo(map);
  const list = document.getElementById("closures");
  const summary = document.getElementById("summary");
  const layers = new Map();
  let etag = null;
  let fitted = false;
  let received = false;  // the closures have been drawn once
  let linked = location.hash.slice(1);  // "closure-<id>": open that one once it is drawn
  // ?at=lat,lon&ids=3,12 (a driver's "Live map" button): their point, and the closures they were told of
  const query = new URLSearchParams(location.search);
  const at = (query.get("at") || "").split(",").map(Number);
  const here = at.length === 2 && at.every(Number.isFinite) ? L.latLng(at[0], at[1]) : null;
  const listed = new Set((query.get("ids") || "").split(",").filter(Boolean).map(Number));
  if (here) {
    map.createPane("here").style.zIndex = 650;  // above the closures, below their popups
    const style = { radius: 9, color: "#fff", weight: 3, fillColor: "#1565c0", fillOpacity: 1, pane: "here" };
    L.circleMarker(here, style)
      .bindTooltip(config.text.here)
      .addTo(map)
      .getElement()
      .setAttribute("data-here", "");
  }

  const element = (tag, className, text) => {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text) node.textContent = text;
    return node;
  };

  const details = (p, box) => {
    box.append(element("strong", "title", p.title));
    box.append(element("div", `status ${p.phase}`, `${p.status} · ${p.timing}`));
    box.append(element("div", "reason", `${p.reason} · ${p.severity}`));
    box.append(element("div", "direction", p.direction));
    if (p.detour) box.append(element("div", "detour", p.detour));
    return box;
  };

  const layerFor = (feature) => {
    const p = feature.properties;
    const faded = listed.size && !listed.has(p.id);  // not one the driver was told of: in the background
    const style = faded
      ? { color: colours[p.phase], weight: 3, opacity: 0.4, fillOpacity: 0.1 }
      : { color: colours[p.phase], weight: listed.size ? 7 : 5, opacity: 0.9, fillOpacity: 0.35 };
    return L.geoJSON(feature, {
      style: () => style,
      pointToLayer: (_, latlng) =>
        p.radius_m ? L.circle(latlng, { ...style, radius: p.radius_m }) : L.circleMarker(latlng, { ...style, radius: 8 }),
    });
  };

  const mark = (layer, id) => {
    layer.eachLayer((part) => {
      if (part.eachLayer) return mark(part, id);
      const node = part.getElement && part.getElement();
      if (node) node.setAttribute("data-closure-id", String(id));
    });
  };

  const draw = (data) => {
    received = true;
    closures.clearLayers();
    layers.clear();
    homeLayers.clear();
    list.replaceChildren();
    const shows = new Map();
    for (const feature of data.features) {
      const id = feature.properties.id;
      const layer = layerFor(feature);
      layer.bindPopup(() => {
        const box = element("div", "popup");
        box.dir = document.documentElement.dir;  // the map itself is laid out left to right
        return details(feature.properties, box);
      });
      layer.addTo(closures);
      mark(layer, id);
      layers.set(id, layer);
      if (home && feature.properties.m === home.id) homeLayers.set(id, layer);
      const item = details(feature.properties, element("li", `closure ${feature.properties.phase}`));
      if (listed.has(id)) item.classList.add("listed");
      item.dataset.closureId = String(id);
      item.id = `closure-${id}`;  // the Atom feed's entries link here
      item.tabIndex = 0;
      const show = () => {
        map.fitBounds(layer.getBounds(), { maxZoom: 16, padding: [24, 24] });
        layer.openPopup();
      };
      item.addEventListener("click", show);
      item.addEventListener("keydown", (event) => event.key === "Enter" && show());
      list.append(item);
      shows.set(item.id, show);
    }
    summary.textContent = data.features.length ? data.summary : config.text.empty;
    if (shows.has(linked)) {
      shows.get(linked)();  // the page was opened from a link to this closure (e.g. in the Atom feed)
      linked = "";
      fitted = true;
    } else if (!fitted) fit();
    document.body.dataset.closures = String(data.features.length);
    document.body.dataset.state = "ready";
  };

  // The page opens on one municipality: fitted to its closures, else to its boundary, else to everything.
  const home = config.municipality;
  const homeLayers = new Map();
  const fit = () => {
    const focus = [...layers].filter(([id]) => listed.has(id)).map(([, layer]) => layer);
    if (listed.size && !received) return;  // the closures to frame are not drawn yet
    if (here && !focus.length) {
      map.setView(here, 14);  // the driver's point, with whatever is around it
      fitted = true;
      return;
    }
    let bounds = null;
    if (focus.length) bounds = L.featureGroup(focus).getBounds();  // the closures the driver was told of
    if (!bounds && home && homeLayers.size) bounds = L.featureGroup([...homeLayers.values()]).getBounds();
    if (!bounds && home) {
      boundaries.eachLayer((layer) => {
        if (layer.feature && layer.feature.properties.slug === home.slug) bounds = layer.getBounds();
      });
    }
    if (!bounds) bounds = layers.size ? L.featureGroup([...layers.values()]).getBounds() : boundaries.getBounds();
    if (here) bounds.extend(here);  // the driver's point and the closures they were told of
    if (bounds.isValid()) {
      map.fitBounds(bounds, focus.length ? { padding: [32, 32], maxZoom: 16 } : { padding: [16, 16], maxZoom: 15 });
      fitted = true;
    }
  };
  const updated = document.getElementById("updated");
  const heard = () => {
    const time = new Date().toLocaleTimeString(config.lang === "ar" ? "ar-SA" : "en-GB", {
      hour: "numeric", minute: "2-digit",
    });
    updated.textContent = config.text.updated.replace("{time}", time);
  };

  const refresh = async () => {
    try {
      const headers = etag ? { "If-None-Match": etag } : {};
      const response = await fetch(config.closuresUrl, { headers, cache: "no-store" });
      if (response.status !== 304) {
        if (!response.ok) throw new Error(`HTTP ${response.status}`);
        const data = await response.json();
        etag = response.headers.get("ETag");
        draw(data);
      }
      document.body.classList.remove("stale");
      heard();
    } catch (error) {
      summary.textContent = config.text.unavailable;
      document.body.classList.add("stale");
      if (!fitted) fit();  // no closures to frame: the municipality's boundary
      console.warn("closures could not be refreshed", error);
    } finally {
      setTimeout(refresh, config.refreshMs);
    }
  };

  fetch(config.boundariesUrl)
    .then((response) => (response.ok ? response.json() : null))
    .then((data) => {
      if (data) boundaries.addData(data);  // the closures, drawn next, decide the view
    })
    .catch((error) => console.warn("boundaries could not be loaded", error))
    .finally(refresh);
})();
