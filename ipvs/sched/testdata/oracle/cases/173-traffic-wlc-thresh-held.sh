# GVS scheduler oracle case (wlc with rs3 upper threshold 2 (overloaded after two connections), held). Traffic helpers and topology: guest/lib.sh
# (client 10.0.1.2..40, rs1..rs4 = 10.0.11.2 .. 10.0.14.2, NAT).
# seq_conns: each connection closes before the next; held_conns: they stay
# ESTABLISHED until the batch ends. one_conn: one short connection to a given VIP.
net_setup
SPORT_BASE=4200
c ipvsadm -A -t 10.0.0.173:80 -s wlc
c ipvsadm -a -t 10.0.0.173:80 -r 10.0.11.2:80 -m -w 1
c ipvsadm -a -t 10.0.0.173:80 -r 10.0.12.2:80 -m -w 1
c ipvsadm -a -t 10.0.0.173:80 -r 10.0.13.2:80 -m -w 1 -x 2
c held_conns 8 10.0.0.173 80 same
c ipvsadm -Ln -t 10.0.0.173:80
