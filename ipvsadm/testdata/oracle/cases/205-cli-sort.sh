# sort order quirks (unsigned wrap in ipvsadm's comparison)
c ipvsadm -A -t 10.0.0.1:80 -s rr
c ipvsadm -A -t 192.168.1.1:80 -s rr
c ipvsadm -A -t 172.16.0.1:80 -s rr
c ipvsadm -A -t 1.1.1.1:80 -s rr
c ipvsadm -A -t 200.0.0.1:80 -s rr
c ipvsadm -A -t 100.0.0.1:80 -s rr
c ipvsadm -A -t 10.0.0.1:443 -s rr
c ipvsadm -A -t 10.0.0.1:8080 -s rr
c ipvsadm -A -u 10.0.0.1:80 -s rr
c ipvsadm -A -f 1 -s rr
c ipvsadm -A -f 2147483647 -s rr
c ipvsadm -A -f 2147483648 -s rr
c ipvsadm -A -f 4294967295 -s rr
c ipvsadm -A -f 3 -6 -s rr
c ipvsadm -A -f 3 -s rr
c ipvsadm -A -t [2001:db8::1]:80 -s rr
c ipvsadm -A -t [fe80::1]:80 -s rr
c ipvsadm -A -t [::1]:80 -s rr
c ipvsadm -a -t 10.0.0.1:80 -r 10.0.0.5:80 -m
c ipvsadm -a -t 10.0.0.1:80 -r 192.168.0.5:80 -m
c ipvsadm -a -t 10.0.0.1:80 -r 200.0.0.5:80 -m
c ipvsadm -a -t 10.0.0.1:80 -r 100.0.0.5:80 -m
c ipvsadm -a -t 10.0.0.1:80 -r 1.0.0.5:80 -m
c ipvsadm -a -t 10.0.0.1:80 -r 10.0.0.5:81 -m
c ipvsadm -a -t 10.0.0.1:80 -r 10.0.0.5:79 -m
c ipvsadm -a -t 10.0.0.1:80 -r 2001:db8::5 -i
c ipvsadm -a -t 10.0.0.1:80 -r fe80::5 -i
c ipvsadm -a -t [2001:db8::1]:80 -r 192.168.0.1 -i
c ipvsadm -a -t [2001:db8::1]:80 -r 10.0.0.1 -i
c ipvsadm -a -t [2001:db8::1]:80 -r 2001:db8::2 -m
c ipvsadm -a -t [2001:db8::1]:80 -r 2001:db8::1:0:0:2 -m
c ipvsadm -a -t [2001:db8::1]:80 -r 3001:db8::2 -m
c ipvsadm -a -t [2001:db8::1]:80 -r 1001:db8::2 -m
c ipvsadm -a -t [2001:db8::1]:80 -r a001:db8::2 -m
c ipvsadm -Ln
c ipvsadm -S -n
