// Calls agentbox-mcp's tools with the MCP TypeScript SDK's client, as Claude
// Desktop, Cursor and VS Code do, and prints what it got as JSON.
//
//	MCP_JS_DIR=/path/with/node_modules node client.mjs stdio AGENTBOX_MCP PYTHON PORT
//	MCP_JS_DIR=/path/with/node_modules node client.mjs http URL
//
// MCP_JS_DIR is a folder whose node_modules holds @modelcontextprotocol/sdk.
// Over stdio the client starts AGENTBOX_MCP itself, with a local sandbox, and
// also starts PYTHON's http.server on PORT in the sandbox and fetches the page
// at its preview URL; over HTTP it reaches the server at URL.
import { createRequire } from 'node:module';

const require = createRequire(process.env.MCP_JS_DIR.replace(/\/?$/, '/'));
const { Client } = require('@modelcontextprotocol/sdk/client/index.js');
const { StdioClientTransport } = require('@modelcontextprotocol/sdk/client/stdio.js');
const { StreamableHTTPClientTransport } = require('@modelcontextprotocol/sdk/client/streamableHttp.js');

const [mode, target, python, port] = process.argv.slice(2);
const page = '<h1>hello from the TypeScript SDK</h1>\n';

const transport = mode === 'http'
  ? new StreamableHTTPClientTransport(new URL(target))
  : new StdioClientTransport({ command: target, args: ['-sandbox', 'local', '-isolation', 'none'], stderr: 'inherit' });
const client = new Client({ name: 'agentbox-ts-test', version: '0.0.0' });
const clientErrors = [];
client.onerror = (err) => clientErrors.push(String(err?.message ?? err));
await client.connect(transport);

// call calls a tool and returns its result's text, error flag and _meta.
async function call(name, args, options) {
  const res = await client.callTool({ name, arguments: args }, undefined, options);
  return {
    text: res.content.filter((c) => c.type === 'text').map((c) => c.text).join('\n'),
    isError: res.isError === true,
    meta: res._meta ?? null,
  };
}

const summary = { server: client.getServerVersion(), clientErrors };
try {
  summary.tools = (await client.listTools()).tools.map((t) => t.name);
  summary.write = await call('write_file', { files: [{ path: 'site/index.html', content: page }] });
  summary.read = await call('read_file', { path: 'site/index.html' });
  summary.progress = [];
  // The SDK's client drops a progress notification it reads together with
  // the result of its call (it hands notifications over a microtask later),
  // and reports it to onerror as "Received a progress notification for an
  // unknown token" (modelcontextprotocol/typescript-sdk#2580). quick is a
  // command that ends at once: its progress arrives before its result only
  // because the server leaves a gap between them.
  summary.run = await call('run_command', { command: 'cat site/index.html; echo ran' }, {
    onprogress: (p) => summary.progress.push(p),
  });
  summary.quickProgress = [];
  summary.quick = await call('run_command', { command: 'echo quick' }, {
    onprogress: (p) => summary.quickProgress.push(p),
  });
  summary.bad = await call('read_file', { path: 'no/such/file' });
  summary.pwd = await call('run_command', { command: 'pwd' });
  if (mode !== 'http') {
    summary.start = await call('start_process', {
      command: `${python} -m http.server ${port} --bind 127.0.0.1`,
      cwd: 'site',
      port: Number(port),
    });
    summary.preview = await call('preview_url', { port: Number(port) });
    const url = summary.preview.text.split('answers at ')[1]?.trim();
    if (url) {
      const resp = await fetch(`${url}/index.html`);
      summary.fetched = { status: resp.status, body: await resp.text() };
    }
    const id = /Process (\S+) is running/.exec(summary.start.text)?.[1];
    if (id) summary.stop = await call('stop_process', { id });
  }
} catch (err) {
  summary.error = String(err?.stack ?? err);
}
if (mode === 'http') await transport.terminateSession().catch((err) => { summary.terminateError = String(err); });
await client.close();
process.stdout.write(JSON.stringify(summary) + '\n');
