// Reference renders of glTF files with three.js in headless Chromium (scripts/compare_threejs.py
// drives it): the same camera and the same neutral light as arfx's fixed studio light.
//
//   node scripts/threejs_reference.mjs NODE_MODULES OUT_DIR WIDTH HEIGHT FOV_Y FILE.glb...
//
// NODE_MODULES holds `three` and `puppeteer-core` (npm install three puppeteer-core); Chromium is
// found at $CHROMIUM or /usr/bin/chromium. Each FILE.glb is placed with its scene origin 45 cm in
// front of the camera (the canonical face's origin in arfx's comparison) and written to
// OUT_DIR/<name>.png. Lights (camera space = world space here, camera at the origin looking
// down -z): key (-0.4, 0.6, 0.7) and fill (0.6, -0.1, 0.5) directional lights of irradiance
// 0.95 pi and 0.35 pi, and a uniform environment of radiance 0.22 (diffuse and specular).
import { createRequire } from "module";
import http from "http";
import fs from "fs";
import path from "path";

const [modules, outDir, width, height, fov, ...files] = process.argv.slice(2);
const require = createRequire(path.join(path.resolve(modules), "noop.js"));
const puppeteer = require("puppeteer-core");
const threeDir = path.join(path.resolve(modules), "three");

const page_html = `<!doctype html><html><body style="margin:0">
<script type="importmap">{"imports": {"three": "/three/build/three.module.js",
  "three/addons/": "/three/examples/jsm/"}}</script>
<script type="module">
import * as THREE from "three";
import { GLTFLoader } from "three/addons/loaders/GLTFLoader.js";
window.renderFile = async (url, width, height, fov) => {
  const renderer = new THREE.WebGLRenderer({ antialias: false, preserveDrawingBuffer: true });
  renderer.setPixelRatio(1);
  renderer.setSize(width, height);
  renderer.outputColorSpace = THREE.SRGBColorSpace;
  renderer.toneMapping = THREE.NoToneMapping;
  renderer.setClearColor(0x000000, 1);
  document.body.innerHTML = "";
  document.body.appendChild(renderer.domElement);
  const scene = new THREE.Scene();
  const camera = new THREE.PerspectiveCamera(fov, width / height, 0.01, 100);
  const key = new THREE.DirectionalLight(0xffffff, 0.95 * Math.PI);
  key.position.set(-0.4, 0.6, 0.7);
  const fill = new THREE.DirectionalLight(0xffffff, 0.35 * Math.PI);
  fill.position.set(0.6, -0.1, 0.5);
  scene.add(key, fill);
  const room = new THREE.Scene();
  room.background = new THREE.Color().setRGB(0.22, 0.22, 0.22, THREE.LinearSRGBColorSpace);
  const pmrem = new THREE.PMREMGenerator(renderer);
  scene.environment = pmrem.fromScene(room).texture;
  const gltf = await new GLTFLoader().loadAsync(url);
  gltf.scene.position.set(0, 0, -0.45);
  scene.add(gltf.scene);
  renderer.render(scene, camera);
  return renderer.domElement.toDataURL("image/png");
};
window.ready = true;
</script></body></html>`;

const server = http.createServer((request, response) => {
  const url = decodeURIComponent(request.url.split("?")[0]);
  let file = null;
  if (url === "/") { response.end(page_html); return; }
  if (url.startsWith("/three/")) file = path.join(threeDir, url.slice(7));
  if (url.startsWith("/file/")) file = files[Number(url.slice(6))];
  if (!file || !fs.existsSync(file)) { response.statusCode = 404; response.end(); return; }
  const type = file.endsWith(".js") ? "text/javascript" : "application/octet-stream";
  response.setHeader("Content-Type", type);
  response.end(fs.readFileSync(file));
});
await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
const port = server.address().port;
const browser = await puppeteer.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium", headless: true,
  args: ["--no-sandbox", "--use-angle=swiftshader", "--enable-unsafe-swiftshader", "--ignore-gpu-blocklist"],
});
try {
  const page = await browser.newPage();
  page.on("console", (message) => console.error("page:", message.text()));
  page.on("pageerror", (error) => console.error("page error:", error.message));
  await page.goto(`http://127.0.0.1:${port}/`);
  await page.waitForFunction("window.ready === true");
  fs.mkdirSync(outDir, { recursive: true });
  for (let i = 0; i < files.length; i++) {
    const data = await page.evaluate((url, w, h, f) => window.renderFile(url, w, h, f),
      `/file/${i}`, Number(width), Number(height), Number(fov));
    const name = path.basename(files[i]).replace(/\.(glb|gltf)$/, "");
    fs.writeFileSync(path.join(outDir, `${name}.png`), Buffer.from(data.split(",")[1], "base64"));
    console.log(`${name}.png`);
  }
} finally {
  await browser.close();
  server.close();
}
