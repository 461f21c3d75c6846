// Starts the web app. A file rather than an inline script: the content security policy allows
// scripts from this origin only (script-src 'self' 'wasm-unsafe-eval'). `cargo xtask web` writes
// the built copy with every file's content-hashed name (ADR 0036).
import init from "/atlas-web.js";

// The lazily loaded bundles' files (ADR 0027), by bundle name. The build replaces this line with
// the built files' names; keep it one line starting `const files = `.
const files = {"atlas-web-more": "/atlas-web-more.js", "atlas-web-promote": "/atlas-web-promote.js"};

// Each bundle is loaded once, the first time one of its pages opens; the main bundle mounts it
// into its page's placeholder and destroys it when the operator leaves.
const bundles = new Map();
const load = (name) => {
  if (!bundles.has(name)) {
    bundles.set(
      name,
      import(files[name]).then(async (m) => {
        await m.default();
        return m;
      }),
    );
  }
  return bundles.get(name);
};
// `me` is the shell's /me answer as JSON (empty when it has none): the bundle does not ask again.
window.atlasMoreMount = (root, name, me) => {
  load(name).then((m) => {
    // Left before the bundle arrived: nothing to show.
    if (root.isConnected) m.mount(root, me || undefined);
  });
};
window.atlasMoreUnmount = (name) => {
  if (bundles.has(name)) bundles.get(name).then((m) => m.unmount());
};

init();
