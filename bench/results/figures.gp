set terminal svg size 800,480 dynamic background rgb 'white'
set output 'latency.svg'
set title 'Publish to sink latency, open loop'
set logscale x
set logscale y
set grid
set key top left
set xlabel 'percentile'
set ylabel 'latency (ms)'
set xtics ('50%%' 2, '90%%' 10, '99%%' 100, '99.9%%' 1000, '99.99%%' 10000)
plot 'latency-open-50.dat' using 1:2 with lines lw 2 title 'open-50 (54143 ev/s)', 'latency-open-90.dat' using 1:2 with lines lw 2 title 'open-90 (97458 ev/s)'
set terminal svg size 800,480 dynamic background rgb 'white'
set output 'shards.svg'
set title 'Throughput against shard count (closed loop, sync on)'
set logscale x 2
set grid
set key bottom right
set yrange [0:*]
set xlabel 'shards'
set ylabel 'per second'
plot 'shards.dat' using 1:2 with linespoints lw 2 title 'events/s end to end', 'shards.dat' using 1:4 with linespoints lw 2 title 'events/s acknowledged'
