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
plot 'latency-open-50.dat' using 1:2 with lines lw 2 title 'open-50 (53972 ev/s)', 'latency-open-50-listing.dat' using 1:2 with lines lw 2 title 'open-50-listing (53972 ev/s)'
