const http = require("http");
const fs = require("fs");
const path = require("path");

let count = 0;

const server = http.createServer((req, res) => {
  if (req.method === "GET" && req.url === "/") {
    res.writeHead(200, { "Content-Type": "text/html; charset=utf-8" });
    fs.createReadStream(path.join(__dirname, "index.html")).pipe(res);
  } else if (req.method === "GET" && req.url === "/api/count") {
    json(res, { count });
  } else if (req.method === "POST" && req.url === "/api/increment") {
    json(res, { count: ++count });
  } else {
    res.writeHead(404).end("not found\n");
  }
});

function json(res, body) {
  res.writeHead(200, { "Content-Type": "application/json" });
  res.end(JSON.stringify(body));
}

if (require.main === module) {
  const port = Number(process.env.PORT) || 3000;
  server.listen(port, "0.0.0.0", () => console.log(`counter app listening on port ${port}`));
}
module.exports = server;
