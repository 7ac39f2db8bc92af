-- wrk script of t/perf/webhook.sh: `-- FILE THREADS` posts the deliveries
-- of FILE (t/helpers/webhook-gen's lines), each once, thread k taking
-- lines k, k + THREADS ...; `-- healthz` gets /healthz instead. Counts
-- the answers by status and prints "STATUS COUNT" lines at the end.

local threads = {}
local next_id = 0

function setup(thread)
	thread:set("id", next_id)
	next_id = next_id + 1
	table.insert(threads, thread)
end

function init(args)
	counts = {}
	deliveries = {}
	pos = 0
	if args[1] == "healthz" then
		return
	end
	local nthreads, i = tonumber(args[2]), 0
	for line in io.lines(args[1]) do
		if i % nthreads == id then
			local delivery, sig, body = line:match("^([^\t]+)\t([^\t]+)\t(.*)$")
			deliveries[#deliveries + 1] = wrk.format("POST", "/webhook", {
				["X-Hub-Signature-256"] = sig,
				["X-GitHub-Event"] = "workflow_job",
				["X-GitHub-Delivery"] = delivery,
				["X-GitHub-Hook-ID"] = "1",
				["Content-Type"] = "application/json",
			}, body)
		end
		i = i + 1
	end
end

-- Past the end, deliveries come again: replays, answered 409, not counted as verified.
function request()
	if #deliveries == 0 then
		return wrk.format("GET", "/healthz")
	end
	pos = pos % #deliveries + 1
	return deliveries[pos]
end

function response(status, headers, body)
	counts[status] = (counts[status] or 0) + 1
end

function done(summary, latency, requests)
	local total = {}
	for _, thread in ipairs(threads) do
		for status, n in pairs(thread:get("counts")) do
			total[status] = (total[status] or 0) + n
		end
	end
	for status, n in pairs(total) do
		io.write(string.format("%d %d\n", status, n))
	end
	io.write(string.format("seconds %.3f\n", summary.duration / 1e6))
end
