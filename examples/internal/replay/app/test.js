const assert = require("assert");
const server = require("./server");

server.listen(0, "127.0.0.1", async () => {
  const url = `http://127.0.0.1:${server.address().port}`;
  const post = (path) => fetch(url + path, { method: "POST" }).then((r) => r.json());
  try {
    const page = await fetch(url + "/").then((r) => r.text());
    assert.match(page, /<button id="add">/);
    console.log("✓ GET / serves the counter page");
    assert.strictEqual((await post("/api/increment")).count, 1);
    assert.strictEqual((await post("/api/increment")).count, 2);
    console.log("✓ POST /api/increment counts 1, 2");
    assert.strictEqual((await fetch(url + "/api/count").then((r) => r.json())).count, 2);
    console.log("✓ GET /api/count reads 2");
    console.log("all checks passed");
  } catch (err) {
    console.error("✗", err.message);
    process.exitCode = 1;
  } finally {
    server.close();
    server.closeAllConnections();
  }
});
