-- The province's views over the tables of `sanbao sink postgres` (README, "sink
-- postgres"). Shipped with sanbao and installed by the sink on every start
-- (CREATE OR REPLACE), after its migrations. Every figure in them is a row the sink
-- wrote from sanbao's own projections: these views only select, join and sum rows,
-- they never re-implement a treasury rule.

-- Every city's watched counties (重点关注地区) on that city's latest business date.
CREATE OR REPLACE VIEW province_watchlist AS
SELECT w.city, w.date, w.county, w.reasons
FROM watchlist w
JOIN sink_position p ON p.city = w.city AND p.latest_date = w.date;

-- Cash and guarantee level (库款保障水平) by city and county, by day.
CREATE OR REPLACE VIEW province_cash AS
SELECT city, county, date, cash, avg_monthly_outflow, guarantee_level, status
FROM county_days;

-- Issued plans and their funding, one row per plan, with its lines counted.
CREATE OR REPLACE VIEW city_plans AS
SELECT p.city, p.seq, p.month, p.based_on_seq, p.issued_on, p.plan_sha256,
       p.city_available, p.total_planned, p.total_funded,
       p.total_planned - p.total_funded AS total_shortfall,
       (SELECT count(*) FROM plan_lines l WHERE l.city = p.city AND l.seq = p.seq) AS lines,
       (SELECT count(*) FROM plan_lines l
         WHERE l.city = p.city AND l.seq = p.seq AND l.shortfall > 0) AS lines_short
FROM plans p;
