# GVS scheduler oracle case (dh: 12 services 10.0.0.180-191 with rs1..rs3 (1 1 1), one connection each, then rs2 quiesced everywhere). Traffic helpers and topology: guest/lib.sh
# (client 10.0.1.2..40, rs1..rs4 = 10.0.11.2 .. 10.0.14.2, NAT).
# seq_conns: each connection closes before the next; held_conns: they stay
# ESTABLISHED until the batch ends. one_conn: one short connection to a given VIP.
net_setup
for v in 180 181 182 183 184 185 186 187 188 189 190 191; do
  c ipvsadm -A -t 10.0.0.$v:80 -s dh
  add_rs "-t 10.0.0.$v:80" -m "1 1 1"
done
i=0
for v in 180 181 182 183 184 185 186 187 188 189 190 191; do
  i=$((i+1)); c one_conn $i 10.0.1.2 $((46000+i)) 10.0.0.$v 80
done
for v in 180 181 182 183 184 185 186 187 188 189 190 191; do
  i=$((i+1)); c one_conn $i 10.0.1.3 $((46000+i)) 10.0.0.$v 80
done
for v in 180 181 182 183 184 185 186 187 188 189 190 191; do
  c ipvsadm -e -t 10.0.0.$v:80 -r 10.0.12.2:80 -m -w 0
done
for v in 180 181 182 183 184 185 186 187 188 189 190 191; do
  i=$((i+1)); c one_conn $i 10.0.1.4 $((46000+i)) 10.0.0.$v 80
done
c ipvsadm -Ln -t 10.0.0.180:80
