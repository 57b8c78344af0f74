# GVS scheduler oracle case (mh, weights 100 3 40 (rshift 0) and 1000 1 1 (rshift > 0), 20 clients each). Traffic helpers and topology: guest/lib.sh
# (client 10.0.1.2..40, rs1..rs4 = 10.0.11.2 .. 10.0.14.2, NAT).
# seq_conns: each connection closes before the next; held_conns: they stay
# ESTABLISHED until the batch ends. one_conn: one short connection to a given VIP.
net_setup
SPORT_BASE=3200
c ipvsadm -A -t 10.0.0.162:80 -s mh
add_rs "-t 10.0.0.162:80" -m "100 3 40"
c seq_conns 20 10.0.0.162 80 vary
c ipvsadm -E -t 10.0.0.162:80 -s rr
c ipvsadm -E -t 10.0.0.162:80 -s mh
c ipvsadm -e -t 10.0.0.162:80 -r 10.0.11.2:80 -m -w 1000
c ipvsadm -e -t 10.0.0.162:80 -r 10.0.12.2:80 -m -w 1
c ipvsadm -e -t 10.0.0.162:80 -r 10.0.13.2:80 -m -w 1
SPORT_BASE=3230
c seq_conns 20 10.0.0.162 80 vary
c ipvsadm -Ln -t 10.0.0.162:80
