# GVS scheduler oracle case (sh with sh-fallback: weights 2 1 1, then rs1 quiesced (weight 0)). Traffic helpers and topology: guest/lib.sh
# (client 10.0.1.2..40, rs1..rs4 = 10.0.11.2 .. 10.0.14.2, NAT).
# seq_conns: each connection closes before the next; held_conns: they stay
# ESTABLISHED until the batch ends. one_conn: one short connection to a given VIP.
net_setup
SPORT_BASE=2300
c ipvsadm -A -t 10.0.0.153:80 -s sh -b sh-fallback
add_rs "-t 10.0.0.153:80" -m "2 1 1"
c seq_conns 30 10.0.0.153 80 vary
c ipvsadm -e -t 10.0.0.153:80 -r 10.0.11.2:80 -m -w 0
SPORT_BASE=2340
c seq_conns 30 10.0.0.153 80 vary
c ipvsadm -Ln -t 10.0.0.153:80
