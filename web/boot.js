// Starts the web app. A file rather than an inline script: the content security policy allows
// scripts from this origin only (script-src 'self' 'wasm-unsafe-eval').
import init from "/atlas-web.js";
init();
