// The app's map: the register's (要援護者マップ) and 駐車場's (the patient's home and the
// parking spaces around it). Leaflet with marker clustering, loaded only when a map screen
// opens (`app/src/map.rs` imports this module), so nobody else downloads it.
//
// Why Leaflet and raster tiles rather than MapLibre GL and vector tiles: Leaflet is ~40 KB
// compressed and draws with the DOM, so it runs on the oldest phones staff carry and in a
// browser without WebGL; raster MBTiles (国土地理院's 標準地図 tiles, for one) are one SQLite
// file the server reads with the SQLite it already embeds. Tiles come only from this server
// (`/api/tiles/{z}/{x}/{y}`), never from a third party.
//
// The page's Rust side owns the data and the card; this module only draws: `mount` returns a
// handle whose `setPeople` replaces the register's markers (clustered) and `setPlaces` the
// parking map's (a home and P markers, never clustered: a few dozen at most, each a choice);
// taps on a marker come back through `onSelect`, taps on the map while placing through
// `onPlace`.

const BASE = "/map/";
let loading = null;

function addScript(src) {
  return new Promise((resolve, reject) => {
    const s = document.createElement("script");
    s.src = src;
    s.onload = resolve;
    s.onerror = () => reject(new Error(`could not load ${src}`));
    document.head.appendChild(s);
  });
}

function addStyle(href) {
  if (document.querySelector(`link[href="${href}"]`)) return;
  const l = document.createElement("link");
  l.rel = "stylesheet";
  l.href = href;
  document.head.appendChild(l);
}

// Leaflet and its clustering plugin are classic scripts that define `L`; loaded once.
function loadLeaflet() {
  if (!loading) {
    addStyle(BASE + "leaflet.css");
    addStyle(BASE + "MarkerCluster.css");
    loading = addScript(BASE + "leaflet.js").then(() => addScript(BASE + "leaflet.markercluster.js"));
  }
  return loading;
}

// The status as a badge on the pin: 未確認 ?, 無事 ✓, 要支援 !, 搬送・避難済み ➜; none in
// normal times. The colour is the label (red / yellow / blue).
const BADGE = { unconfirmed: "?", safe: "✓", needs_support: "!", evacuated: "➜" };

function pinIcon(L, p) {
  const status = p.status || "none";
  const badge = BADGE[p.status] || "";
  return L.divIcon({
    className: `rk-pin rk-${p.label} rk-status-${status}`,
    html: `<span class="rk-dot"></span>${badge ? `<span class="rk-badge">${badge}</span>` : ""}`,
    iconSize: [44, 44],
    iconAnchor: [22, 22],
  });
}

// A cluster shows how many it holds, in the most urgent colour among them, and how many of
// them still need someone (要支援 or 未確認) when a disaster is on.
function clusterIcon(L, cluster) {
  const children = cluster.getAllChildMarkers();
  const labels = children.map((m) => m.options.rk.label);
  const colour = labels.includes("red") ? "red" : labels.includes("yellow") ? "yellow" : "blue";
  const waiting = children.filter((m) => ["needs_support", "unconfirmed"].includes(m.options.rk.status)).length;
  return L.divIcon({
    className: `rk-cluster rk-${colour}`,
    html: `<span>${children.length}</span>${waiting ? `<em>${waiting}</em>` : ""}`,
    iconSize: [48, 48],
  });
}

// The patient's home: a house on a red disc (not a target: the spaces around it are).
function homeIcon(L) {
  return L.divIcon({
    className: "rk-home",
    html: `<span class="rk-home-dot" aria-hidden="true">🏠</span>`,
    iconSize: [40, 40],
    iconAnchor: [20, 20],
  });
}

// A parking space: a blue square with a white P, 44 px; the chosen one larger and ringed,
// a paused one grey.
function spaceIcon(L, s) {
  return L.divIcon({
    className: `rk-space${s.selected ? " rk-selected" : ""}${s.paused ? " rk-paused" : ""}`,
    html: `<span class="rk-p">P</span>`,
    iconSize: [44, 44],
    iconAnchor: [22, 22],
  });
}

export async function mount(el, opts) {
  await loadLeaflet();
  const L = window.L;
  const map = L.map(el, { zoomControl: true, attributionControl: true, minZoom: 3, maxZoom: 19 });
  if (opts.tiles) {
    const t = opts.tiles;
    L.tileLayer(t.url, {
      minZoom: 0,
      maxZoom: 19,
      minNativeZoom: t.minZoom,
      maxNativeZoom: t.maxZoom,
      attribution: t.attribution,
      bounds: t.bounds ? L.latLngBounds([t.bounds[1], t.bounds[0]], [t.bounds[3], t.bounds[2]]) : undefined,
    }).addTo(map);
  } else {
    el.classList.add("rk-no-tiles");
  }
  const cluster = L.markerClusterGroup({
    maxClusterRadius: 48,
    disableClusteringAtZoom: 17,
    showCoverageOnHover: false,
    iconCreateFunction: (c) => clusterIcon(L, c),
  });
  map.addLayer(cluster);
  const places = L.layerGroup().addTo(map);
  let placing = null;
  map.on("click", (e) => {
    if (placing === null) return;
    const id = placing;
    placing = null;
    el.classList.remove("rk-placing");
    opts.onPlace(id, e.latlng.lat, e.latlng.lng);
  });
  const center = opts.center || (opts.tiles && opts.tiles.center);
  if (center) map.setView([center[1], center[0]], center[2] || 14);
  else map.setView([35.681, 139.767], 5);

  const handle = {
    setPeople(people) {
      cluster.clearLayers();
      const markers = people.map((p) => {
        const m = L.marker([p.lat, p.lon], {
          icon: pinIcon(L, p),
          title: p.name,
          alt: p.name,
          keyboard: true,
          rk: p,
        });
        m.on("click", () => opts.onSelect(p.id));
        m.on("keypress", (e) => {
          if (e.originalEvent && (e.originalEvent.key === "Enter" || e.originalEvent.key === " ")) opts.onSelect(p.id);
        });
        return m;
      });
      cluster.addLayers(markers);
    },
    // The parking map: the home (or none) and the spaces, replacing what was drawn.
    setPlaces(home, spaces) {
      places.clearLayers();
      if (home) {
        L.marker([home.lat, home.lon], {
          icon: homeIcon(L),
          title: home.name,
          alt: home.name,
          keyboard: false,
          interactive: false,
          zIndexOffset: -100,
        }).addTo(places);
      }
      for (const s of spaces) {
        const m = L.marker([s.lat, s.lon], {
          icon: spaceIcon(L, s),
          title: s.name,
          alt: s.name,
          keyboard: true,
          zIndexOffset: s.selected ? 1000 : 0,
        });
        m.on("click", () => opts.onSelect(s.id));
        m.on("keypress", (e) => {
          if (e.originalEvent && (e.originalEvent.key === "Enter" || e.originalEvent.key === " ")) opts.onSelect(s.id);
        });
        m.addTo(places);
      }
    },
    // Fits the view to the people (or keeps it when there are none).
    fit(people) {
      if (!people.length) return;
      const b = L.latLngBounds(people.map((p) => [p.lat, p.lon]));
      map.fitBounds(b.pad(0.15), { maxZoom: 16 });
    },
    focus(lat, lon) {
      map.setView([lat, lon], Math.max(map.getZoom(), 17));
    },
    // The next tap on the map places person `id` there.
    startPlacing(id) {
      placing = id;
      el.classList.add("rk-placing");
    },
    stopPlacing() {
      placing = null;
      el.classList.remove("rk-placing");
    },
    invalidate() {
      map.invalidateSize();
    },
    destroy() {
      map.remove();
    },
  };
  return handle;
}
