// The other side of t/2020-jose-interop.bats, on the npm package jose:
//   verify JWKS TOKEN       jwtVerify against the JWK set; print the claims
//   sign ALG DIR            a new key pair: DIR/key.pem (PKCS#8) and a JWT
//                           it signed with its thumbprint as kid; print both
//   thumbprints JWKS        "kid thumbprint" per key
//   bench ALG N             mint and verify N tokens; print the rates
import * as jose from 'jose';
import { readFileSync, writeFileSync } from 'node:fs';

const [cmd, ...args] = process.argv.slice(2);
const claims = { scope: 'pull:acme', repo: 'acme/widgets', job: '4242' };

async function sign(alg, key, kid) {
	return new jose.SignJWT(claims)
		.setProtectedHeader({ alg, kid, typ: 'JWT' })
		.setIssuer('nimbus').setAudience('cache').setSubject('jose')
		.setIssuedAt().setNotBefore('0s').setExpirationTime('10m')
		.sign(key);
}

if (cmd === 'verify') {
	const jwks = jose.createLocalJWKSet(JSON.parse(readFileSync(args[0], 'utf8')));
	const { payload, protectedHeader } = await jose.jwtVerify(args[1], jwks,
		{ issuer: 'nimbus', audience: 'cache', algorithms: ['EdDSA', 'ES256', 'RS256'] });
	console.log(JSON.stringify({ alg: protectedHeader.alg, kid: protectedHeader.kid, ...payload }));
} else if (cmd === 'sign') {
	const { publicKey, privateKey } = await jose.generateKeyPair(args[0], { extractable: true });
	const kid = await jose.calculateJwkThumbprint(await jose.exportJWK(publicKey));
	writeFileSync(`${args[1]}/key.pem`, await jose.exportPKCS8(privateKey), { mode: 0o600 });
	console.log(kid);
	console.log(await sign(args[0], privateKey, kid));
} else if (cmd === 'thumbprints') {
	for (const jwk of JSON.parse(readFileSync(args[0], 'utf8')).keys)
		console.log(jwk.kid, await jose.calculateJwkThumbprint(jwk));
} else if (cmd === 'bench') {
	const [alg, n] = [args[0], Number(args[1])];
	const { publicKey, privateKey } = await jose.generateKeyPair(alg);
	const opts = { issuer: 'nimbus', audience: 'cache', algorithms: [alg] };
	let t = process.hrtime.bigint(), token;
	for (let i = 0; i < n; i++)
		token = await sign(alg, privateKey, 'k');
	const mint = n / (Number(process.hrtime.bigint() - t) / 1e9);
	t = process.hrtime.bigint();
	for (let i = 0; i < n; i++)
		await jose.jwtVerify(token, publicKey, opts);
	const verify = n / (Number(process.hrtime.bigint() - t) / 1e9);
	console.log(mint.toFixed(0), verify.toFixed(0));
} else {
	console.error(`jose-interop: unknown command ${cmd}`);
	process.exit(2);
}
