package main

import (
	"encoding/json"
	"strings"

	"github.com/agentbox/agentbox"
	"github.com/agentbox/agentbox/agentboxtest"
)

const indexHTML = `<!doctype html>
<html>
<head><meta charset="utf-8"><title>Counter</title></head>
<body>
  <h1 id="count">0</h1>
  <button id="add">+1</button>
  <script>
    let count = 0;
    document.getElementById("add").onclick = () => {
      document.getElementById("count").textContent = ++count;
    };
  </script>
</body>
</html>
`

const serverJS = `const http = require("http");
const fs = require("fs");
const port = process.env.PORT || 3000;
http.createServer((req, res) => {
  res.writeHead(200, { "Content-Type": "text/html" });
  fs.createReadStream("index.html").pipe(res);
}).listen(port, "0.0.0.0", () => console.log("listening on " + port));
`

// recording is a model session recorded for the default prompt.
func recording() []agentboxtest.Step {
	var files strings.Builder
	enc := json.NewEncoder(&files)
	enc.SetEscapeHTML(false)
	enc.Encode(map[string]any{"files": []map[string]string{
		{"path": "index.html", "content": indexHTML},
		{"path": "server.js", "content": serverJS},
	}})
	usage := func(prompt, completion int64) *agentbox.Usage {
		return &agentbox.Usage{PromptTokens: prompt, CompletionTokens: completion}
	}
	return []agentboxtest.Step{
		{
			Text:  []string{"I'll ", "write the ", "page and ", "a tiny ", "server.\n"},
			Calls: []agentboxtest.Call{{ID: "call_1", Name: "write_file", Args: files.String(), Split: 64}},
			Usage: usage(1450, 320),
		},
		{
			Text:  []string{"Now let me ", "check the files.\n"},
			Calls: []agentboxtest.Call{{ID: "call_2", Name: "run_command", Args: `{"command":"test -f index.html && test -f server.js && echo 'both files present'; cat server.js"}`}},
			Usage: usage(1850, 60),
		},
		{
			Text:  []string{"Done. ", "`index.html` shows a number and a **+1** button; ", "`server.js` serves it on port 3000 ", "(run `node server.js`)."},
			Usage: usage(2100, 45),
		},
	}
}
