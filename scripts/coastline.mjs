#!/usr/bin/env node
// Generates public/map/land-110m.svg, the static world-map backdrop, from
// Natural Earth 1:110m land as packaged in world-atlas@2.0.2 (TopoJSON).
//
//   node scripts/coastline.mjs
//
// No npm dependencies: the data package is fetched with `npm pack` into a
// throw-away directory and the TopoJSON is decoded here. The output is
// byte-for-byte deterministic, so a rerun on an unchanged input is a no-op
// for git.

import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const PACKAGE = "world-atlas@2.0.2";
// Pinned so a silently changed upstream file can't change the asset unnoticed.
const LAND_SHA256 = "ead5f68119c49a9250902e7da303bcb209341bbb8fefe7369a439b48b704658a";

const WIDTH = 1000;
const HEIGHT = 500;
const FILL = "#d9dee7";
// Rings lying entirely south of this are Antarctica and its ice shelves.
const SOUTH_CUTOFF_LAT = -58;

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), "..");
const outDir = join(repoRoot, "public", "map");

function fetchTopology() {
  const dir = mkdtempSync(join(tmpdir(), "coastline-"));
  try {
    const tarball = execFileSync("npm", ["pack", PACKAGE, "--silent"], {
      cwd: dir,
      encoding: "utf8",
      stdio: ["ignore", "pipe", "inherit"],
    }).trim().split("\n").pop();
    execFileSync("tar", ["-xzf", tarball, "package/land-110m.json"], { cwd: dir, stdio: "inherit" });
    const bytes = readFileSync(join(dir, "package", "land-110m.json"));
    const sha = createHash("sha256").update(bytes).digest("hex");
    if (sha !== LAND_SHA256) {
      throw new Error(`land-110m.json sha256 ${sha} does not match pinned ${LAND_SHA256}`);
    }
    return JSON.parse(bytes.toString("utf8"));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// Arcs are quantized and delta-encoded: accumulate integers first, then apply
// the transform, so no float error builds up along long arcs.
function decodeArcs(topology) {
  const [sx, sy] = topology.transform.scale;
  const [tx, ty] = topology.transform.translate;
  return topology.arcs.map((arc) => {
    let x = 0;
    let y = 0;
    return arc.map(([dx, dy]) => {
      x += dx;
      y += dy;
      return [x * sx + tx, y * sy + ty];
    });
  });
}

// A ring is a list of arc indices; ~i means arc i walked backwards. Adjacent
// arcs share their joining point, so it is kept only once.
function stitchRing(arcIndices, arcs) {
  const ring = [];
  for (const index of arcIndices) {
    const arc = index < 0 ? arcs[~index].slice().reverse() : arcs[index];
    ring.push(...(ring.length ? arc.slice(1) : arc));
  }
  return ring;
}

function landRings(topology, arcs) {
  const rings = [];
  const visit = (geometry) => {
    switch (geometry.type) {
      case "GeometryCollection":
        geometry.geometries.forEach(visit);
        break;
      case "Polygon":
        for (const ring of geometry.arcs) rings.push(stitchRing(ring, arcs));
        break;
      case "MultiPolygon":
        for (const polygon of geometry.arcs) {
          for (const ring of polygon) rings.push(stitchRing(ring, arcs));
        }
        break;
      default:
        throw new Error(`unexpected geometry type ${geometry.type}`);
    }
  };
  visit(topology.objects.land);
  return rings;
}

// world-atlas stitches polygons across the antimeridian (Chukotka, Fiji,
// Wrangel Island), so their longitudes jump between +180 and -180; drawn
// naively, that is a line across the whole map. Unwrap the ring so it is
// continuous, then cut it at the ±180 meridian and move the overhang to the
// other edge. Cutting a concave ring with one straight line can leave
// zero-width spurs along the map edge; they have no area, so with a fill and
// no stroke they are invisible.
function splitAtAntimeridian(ring) {
  const unwrapped = [ring[0].slice()];
  for (let i = 1; i < ring.length; i++) {
    const prev = unwrapped[i - 1][0];
    let lon = ring[i][0];
    while (lon - prev > 180) lon -= 360;
    while (lon - prev < -180) lon += 360;
    unwrapped.push([lon, ring[i][1]]);
  }
  const closingGap = unwrapped[unwrapped.length - 1][0] - unwrapped[0][0];
  if (Math.abs(closingGap) > 180) {
    // Only a ring around a pole (Antarctica) winds all the way round; it is
    // dropped by the latitude cut-off before reaching here.
    throw new Error("ring encircles a pole; not supported");
  }
  const lons = unwrapped.map((p) => p[0]);
  const min = Math.min(...lons);
  const max = Math.max(...lons);
  if (min >= -180 && max <= 180) return [ring];
  const edge = max > 180 ? 180 : -180;
  const side = Math.sign(edge); // +1: overhang is east of +180
  const inside = clipToHalfPlane(unwrapped, edge, -side);
  const outside = clipToHalfPlane(unwrapped, edge, side).map(([lon, lat]) => [lon - side * 360, lat]);
  return [inside, outside].filter((r) => r.length >= 3);
}

// Sutherland–Hodgman against one vertical line: keeps the part of the ring
// where sign(lon - edge) is `keep` (or zero).
function clipToHalfPlane(ring, edge, keep) {
  const isIn = ([lon]) => (lon - edge) * keep >= 0;
  const out = [];
  for (let i = 0; i < ring.length; i++) {
    const a = ring[(i + ring.length - 1) % ring.length];
    const b = ring[i];
    if (isIn(a) !== isIn(b)) {
      const t = (edge - a[0]) / (b[0] - a[0]);
      out.push([edge, a[1] + t * (b[1] - a[1])]);
    }
    if (isIn(b)) out.push(b);
  }
  return out;
}

// Equirectangular onto WIDTH × HEIGHT, in integer tenths of a unit so that
// rounding to 1 decimal is exact and relative deltas carry no float drift.
function projectRing(ring) {
  const points = [];
  for (const [lon, lat] of ring) {
    const x = Math.round(((lon + 180) / 360) * WIDTH * 10);
    const y = Math.round(((90 - lat) / 180) * HEIGHT * 10);
    const last = points[points.length - 1];
    if (!last || last[0] !== x || last[1] !== y) points.push([x, y]);
  }
  // `z` closes the ring, so an explicit closing point is redundant.
  while (points.length > 1) {
    const [first, last] = [points[0], points[points.length - 1]];
    if (first[0] !== last[0] || first[1] !== last[1]) break;
    points.pop();
  }
  return points;
}

// Tenths → shortest decimal text: 125 → "12.5", 5 → ".5", -5 → "-.5".
function num(tenths) {
  const sign = tenths < 0 ? "-" : "";
  const abs = Math.abs(tenths);
  const int = Math.floor(abs / 10);
  const frac = abs % 10;
  return sign + (int === 0 && frac !== 0 ? "" : String(int)) + (frac ? "." + frac : "");
}

// Joins numbers with the fewest separators the path grammar allows: none
// before a "-", none before ".5" when the previous number already has a dot.
function joinNumbers(values) {
  let out = "";
  let prevHasDot = false;
  for (const v of values) {
    const s = num(v);
    const needsSep = out !== "" && !(s[0] === "-" || (s[0] === "." && prevHasDot));
    out += (needsSep ? " " : "") + s;
    prevHasDot = s.includes(".");
  }
  return out;
}

function ringPath(points) {
  const [x0, y0] = points[0];
  const move = "M" + joinNumbers([x0, y0]);
  const rest = points.slice(1);
  const relative = [];
  rest.forEach(([x, y], i) => {
    const [px, py] = i === 0 ? points[0] : rest[i - 1];
    relative.push(x - px, y - py);
  });
  const rel = "l" + joinNumbers(relative);
  const abs = "L" + joinNumbers(rest.flat());
  return move + (rel.length <= abs.length ? rel : abs) + "z";
}

function main() {
  const topology = fetchTopology();
  const arcs = decodeArcs(topology);

  const projected = landRings(topology, arcs)
    .filter((ring) => ring.some(([, lat]) => lat >= SOUTH_CUTOFF_LAT))
    .flatMap(splitAtAntimeridian)
    .map(projectRing)
    .filter((points) => points.length >= 3);

  const d = projected.map(ringPath).join("");
  const svg =
    "<!-- Natural Earth 1:110m land (public domain, naturalearthdata.com), via world-atlas 2.0.2\n" +
    "     by Mike Bostock (ISC licence). Equirectangular, Antarctica omitted.\n" +
    "     Generated by scripts/coastline.mjs; do not edit by hand. -->\n" +
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${WIDTH} ${HEIGHT}">` +
    `<path fill="${FILL}" d="${d}"/></svg>\n`;

  mkdirSync(outDir, { recursive: true });
  const outFile = join(outDir, "land-110m.svg");
  writeFileSync(outFile, svg);
  const points = projected.reduce((n, r) => n + r.length, 0);
  console.log(`wrote ${outFile}: ${Buffer.byteLength(svg)} bytes, ${projected.length} rings, ${points} points`);
}

main();
