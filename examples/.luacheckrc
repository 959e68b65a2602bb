-- luacheck settings for relayfn functions (Lua 5.1 in relayfn's sandbox),
-- written by fnctl init. Run: luacheck .
std = "relayfn"
stds.relayfn = {
  read_globals = {
    -- relayfn
    "r", "cfg", "log",
    -- modules: require("json"), or the global json
    "base64", "bigquery", "crypto", "email", "http", "json", "jwt", "mailgun", "multipart", "time", "urlencoded",
    -- the sandbox: the base library without load, dofile, getfenv, setfenv, ...
    "_G", "_VERSION", "assert", "error", "getmetatable", "ipairs", "next", "pairs", "pcall", "print", "rawequal", "rawget", "rawset", "require", "select", "setmetatable", "tonumber", "tostring", "type", "unpack", "xpcall",
    "string", "table", "math",
    os = {fields = {"time", "date", "clock"}},
  },
}
max_line_length = false
