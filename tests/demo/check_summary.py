"""check_summary.py FILE — the demo's JSON summary adds up and shows the job
being done: 40 renewals were charged, every failed one is accounted for,
something was recovered and something written off (the seeded book mixes
issuers that recover and issuers that never do), customers were emailed, and the recovered amounts
are exactly what stripe-sim was paid; stripe-sim voided exactly the lost
invoices and the ERP got one posting per finished flow."""
import json
import sys

s = json.load(open(sys.argv[1]))
parts = s["recovered"] + s["lost"] + s["dunning"] + s["operator"]
problems = []
if s["renewals"] != 40 or not 0 < s["failed"] <= 40:
    problems.append("expected 40 renewals and some failed, got %d and %d"
                    % (s["renewals"], s["failed"]))
if s["paid_at_once"] + s["failed"] != s["renewals"]:
    problems.append("paid at once %d + failed %d != renewals %d"
                    % (s["paid_at_once"], s["failed"], s["renewals"]))
if s["sim_voided"] != s["lost"]:
    problems.append("stripe-sim voided %d invoices, %d lost" % (s["sim_voided"], s["lost"]))
if s["erp_postings"] != s["recovered"] + s["lost"]:
    problems.append("%d ERP postings for %d finished flows"
                    % (s["erp_postings"], s["recovered"] + s["lost"]))
if parts != s["failed"]:
    problems.append("recovered+lost+dunning+operator = %d, failed = %d" % (parts, s["failed"]))
if s["recovered"] == 0 or s["lost"] == 0:
    problems.append("expected both recoveries and losses: %r" % s)
if s["emails"] < s["failed"] - s["recovered"]:
    problems.append("fewer emails (%d) than customers who needed one" % s["emails"])
if s["recovered_amounts"] != s["sim_paid"]:
    problems.append("recovered %r but stripe-sim was paid %r" % (s["recovered_amounts"],
                                                                 s["sim_paid"]))
for p in problems:
    print("demo summary: " + p)
print("demo summary: %d failed, %d recovered, %d lost, %d in dunning, %d for an operator"
      % (s["failed"], s["recovered"], s["lost"], s["dunning"], s["operator"]))
sys.exit(1 if problems else 0)
