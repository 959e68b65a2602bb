-- verify-jwt: lets through only requests that carry a valid JWT, as
-- "Authorization: Bearer <token>", signed with the shared secret of
-- JWT_SECRET (HS256, HS384 or HS512). The signature is checked, and exp and
-- nbf when the token has them; unsigned tokens (alg "none") are always
-- refused. When JWT_ISSUER is set the token's "iss" claim must equal it.
--
-- A request without a valid token is answered 401 with a WWW-Authenticate
-- header (RFC 6750) and a small JSON body, and is not forwarded; the reason
-- is logged, never the token. A valid request is forwarded without its
-- Authorization header (the destination does not need the credential) and
-- with X-Authenticated-Subject set to the token's "sub" claim.
--
-- Config variables: JWT_SECRET (required), JWT_ISSUER (optional).

local jwt = require("jwt")

local secret = cfg:GetValue("JWT_SECRET")
if secret == "" then
  error("JWT_SECRET is not set")
end
local issuer = cfg:GetValue("JWT_ISSUER")

local function refuse(reason, challenge)
  log.warn("refused: " .. reason)
  r:SetResponseStatusCode(401)
  r:SetResponseHeader("WWW-Authenticate", challenge)
  r:SetResponseHeader("Content-Type", "application/json")
  r:SetResponseBody('{"error":"unauthorized"}')
  r:StopForwarding()
end

local err = jwt.authenticate(secret)
if err then
  if err:find("missing Authorization header", 1, true) then
    -- No credentials at all: a plain challenge, without an error code.
    refuse(err, 'Bearer realm="webhooks"')
  else
    refuse(err, 'Bearer realm="webhooks", error="invalid_token"')
  end
  return
end

-- The token is valid: read its claims for the issuer and the subject.
local token = (r.RequestHeader["Authorization"] or ""):match("^%s*%a+%s+(%S+)")
local claims, decode_err = jwt.decode(token, secret)
if decode_err then
  error("cannot read the token's claims: " .. decode_err)
end
if issuer ~= "" and claims.iss ~= issuer then
  refuse("token issued by " .. tostring(claims.iss) .. ", not " .. issuer,
    'Bearer realm="webhooks", error="invalid_token"')
  return
end

r:DeleteRequestHeader("Authorization")
if type(claims.sub) == "string" and claims.sub ~= "" then
  r:SetRequestHeader("X-Authenticated-Subject", claims.sub)
end
log.info("authenticated " .. tostring(claims.sub))
