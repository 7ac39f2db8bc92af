# Helpers for bats files and plain scripts (t/perf) alike: nothing here
# may use bats. Sourced by common.bash.

# nimbus serve started as root becomes serve.user, nimbus, which the
# temporary directories of the tests and benchmarks are not for: as root
# they keep it root, without capabilities (t/9000-serve-sandbox.bats
# has it become another user).
[ "$(id -u)" != 0 ] || export NIMBUS_SERVE_USER=root

# A free TCP port on 127.0.0.1, below the ephemeral range: a port that a
# client holds for its end of a connection cannot be bound, even though
# nothing listens on it.
free_port() {
	local low port
	read -r low _ </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || low=32768
	((low > 11000)) || low=65536
	while :; do
		port=$((RANDOM % (low - 10000) + 10000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			echo "$port"
			return
		fi
	done
}

# Wait until a command succeeds, at most $1 tenths of a second.
wait_for() {
	local tenths=$1 i
	shift
	for ((i = 0; i < tenths; i++)); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}

# npm_install DIR NAME@RANGE: the npm package, installed into DIR once.
# Fails when node or npm is missing or the install fails (DIR/npm.log).
npm_install() {
	local dir=$1 name=${2%@*}
	command -v node >/dev/null && command -v npm >/dev/null || return 1
	[ ! -d "$dir/node_modules/$name" ] || return 0
	mkdir -p "$dir"
	npm install --prefix "$dir" --no-audit --no-fund --silent "$2" >"$dir/npm.log" 2>&1
}

# nginx_start DIR PORT LOCATIONS: Debian's nginx on 127.0.0.1:PORT with the
# location blocks LOCATIONS, its files in DIR, in the background ($! is
# its pid); no access log, sendfile on.
nginx_start() {
	local dir=$1
	mkdir -p "$dir"
	cat >"$dir/nginx.conf" <<CONF
user root;
worker_processes auto;
daemon off;
pid $dir/nginx.pid;
error_log $dir/error.log;
events {
	worker_connections 1024;
}
http {
	access_log off;
	sendfile on;
	client_body_temp_path $dir/body;
	proxy_temp_path $dir/proxy;
	fastcgi_temp_path $dir/fastcgi;
	uwsgi_temp_path $dir/uwsgi;
	scgi_temp_path $dir/scgi;
	server {
		listen 127.0.0.1:$2;
		$3
	}
}
CONF
	# as another user nginx refuses "user root": drop that line there
	[ "$(id -u)" = 0 ] || sed -i '/^user root;/d' "$dir/nginx.conf"
	nginx -p "$dir" -c "$dir/nginx.conf" 2>"$dir/stderr" &
}
