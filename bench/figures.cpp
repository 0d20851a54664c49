// The figures of a run: data files and a gnuplot script beside the results file, drawn as SVG when
// gnuplot is installed (Debian's gnuplot-nox). Without gnuplot the data files stay for later.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "bench/report.hpp"

namespace dispatch::bench {

namespace {

/// Latency against percentile on a "nines" axis: x = 1 / (1 - q), so 90% is 10 and 99.9% is 1000.
std::string write_latency_data(const std::string& dir, const engine_result& r) {
  auto file = "latency-" + r.params.name + ".dat";
  std::ofstream out{dir + "/" + file};
  out << "# x=1/(1-q)  latency_ms   (" << r.params.name << ", " << r.params.rate << " events/s)\n";
  for (int k = 0; k <= 100; ++k) {
    double q = 1 - std::pow(10.0, -k / 20.0);
    if (k > 0 && q * r.latency_sorted_us.size() > r.latency_sorted_us.size() - 1)
      break; // beyond the last sample: the max line says the rest
    out << 1 / (1 - q) << " " << quantile_ms(r.latency_sorted_us, q) << "\n";
  }
  return file;
}

std::string latency_plot(const std::string& dir, const std::vector<engine_result>& runs) {
  std::ostringstream plots;
  for (auto& r : runs) {
    if (r.params.rate == 0 || r.latency_sorted_us.empty()) continue;
    auto file = write_latency_data(dir, r);
    plots << (plots.tellp() > 0 ? ", " : "") << "'" << file << "' using 1:2 with lines lw 2 title '"
          << r.params.name << " (" << r.params.rate << " ev/s)'";
  }
  if (plots.tellp() == 0) return {};
  std::ostringstream gp;
  gp << "set terminal svg size 800,480 dynamic background rgb 'white'\n"
     << "set output 'latency.svg'\n"
     << "set title 'Publish to sink latency, open loop'\n"
     << "set logscale x\nset logscale y\nset grid\nset key top left\n"
     << "set xlabel 'percentile'\nset ylabel 'latency (ms)'\n"
     << "set xtics ('50%%' 2, '90%%' 10, '99%%' 100, '99.9%%' 1000, '99.99%%' 10000)\n"
     << "plot " << plots.str() << "\n";
  return gp.str();
}

std::string shards_plot(const std::string& dir, const std::vector<engine_result>& runs) {
  std::vector<const engine_result*> points;
  for (auto& r : runs)
    if (r.params.series == "shards" && r.ok) points.push_back(&r);
  if (points.size() < 2) return {}; // one point is no curve
  std::sort(points.begin(), points.end(),
            [](auto x, auto y) { return x->params.shards < y->params.shards; });
  std::ofstream out{dir + "/shards.dat"};
  out << "# shards events_per_s deliveries_per_s acked_per_s\n";
  for (auto r : points)
    out << r->params.shards << " " << r->events_per_s << " " << r->deliveries_per_s << " "
        << r->acked_per_s << "\n";
  std::ostringstream gp;
  gp << "set terminal svg size 800,480 dynamic background rgb 'white'\n"
     << "set output 'shards.svg'\n"
     << "set title 'Throughput against shard count (closed loop, sync on)'\n"
     << "set logscale x 2\nset grid\nset key bottom right\nset yrange [0:*]\n"
     << "set xlabel 'shards'\nset ylabel 'per second'\n"
     << "plot 'shards.dat' using 1:2 with linespoints lw 2 title 'events/s end to end', "
     << "'shards.dat' using 1:4 with linespoints lw 2 title 'events/s acknowledged'\n";
  return gp.str();
}

} // namespace

std::string draw_figures(const std::string& dir, const std::vector<engine_result>& runs) {
  auto script = latency_plot(dir, runs);
  script += shards_plot(dir, runs);
  if (script.empty()) return "figures: nothing to draw (no open-loop run, no shard series)";
  {
    std::ofstream out{dir + "/figures.gp"};
    out << script;
  }
  if (std::system("command -v gnuplot > /dev/null 2>&1") != 0)
    return "figures: gnuplot not found (apt-get install gnuplot-nox); data and script left in "
           + dir + "/figures.gp";
  auto command = "cd '" + dir + "' && gnuplot figures.gp";
  if (std::system(command.c_str()) != 0) return "figures: gnuplot failed on " + dir + "/figures.gp";
  return "figures: drawn in " + dir + " (latency.svg, shards.svg)";
}

} // namespace dispatch::bench
