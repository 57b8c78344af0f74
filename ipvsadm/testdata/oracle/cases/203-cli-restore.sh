# -R stream parsing details
s 'printf -- "-A -t 10.0.0.1:80 -s rr\r\n-A\t-t 10.0.0.2:80   -s rr \n   -A -t 10.0.0.3:80 -s rr\n" | ipvsadm -R; echo rc=$?'
c ipvsadm -Ln
c ipvsadm -C
s 'printf -- "-A -t 10.0.0.1:80 -s rr\n-A -t 10.0.0.2:80 -s rr" | ipvsadm -R; echo rc=$?'
c ipvsadm -Ln
c ipvsadm -C
s 'printf -- "-A -t 10.0.0.1:80 -s rr\n-A -t 10.0.0.2:80 -s rr  " | ipvsadm -R; echo rc=$?'
c ipvsadm -Ln
c ipvsadm -C
s 'printf -- "-A -t 10.0.0.1:80 -s rr\n-A -t 10.0.0.2:80 -s rr " | ipvsadm -R; echo rc=$?'
c ipvsadm -Ln
c ipvsadm -C
s 'printf -- "-A ipvsadm -t 10.0.0.1:80 -s rr\n-C # comment\n-A -t 10.0.0.2:80\n" | ipvsadm -R; echo rc=$?'
c ipvsadm -Ln
c ipvsadm -C
s 'printf -- "-A -t 10.0.0.1:80 -s rr\n-R\n-A -t 10.0.0.2:80\n" | ipvsadm -R; echo rc=$?'
c ipvsadm -Ln
c ipvsadm -C
s 'printf -- "-A -t 10.0.0.1:80 -s rr\n-h\n-A -t 10.0.0.2:80\n" | ipvsadm -R | head -3; echo rc=$?'
c ipvsadm -Ln
c ipvsadm -C
s 'printf -- "-A -t 10.0.0.1:80 -s rr\n-A -t 10.0.0.2:80 -X\n-A -t 10.0.0.3:80\n" | ipvsadm -R; echo rc=$?'
c ipvsadm -Ln
c ipvsadm -C
s 'printf -- "-A -t 10.0.0.1:80 -s rr\n-A -t 10.0.0.2:80 -w 1\n-A -t 10.0.0.3:80\n" | ipvsadm -R; echo rc=$?'
c ipvsadm -Ln
c ipvsadm -C
s 'printf -- "-A -t 10.0.0.1:80 -s rr\n-L -t 10.0.0.9:80\n-A -t 10.0.0.3:80\n" | ipvsadm -R; echo rc=$?'
c ipvsadm -Ln
c ipvsadm -C
s 'printf -- "-A -t 10.0.0.1:80 -s rr\n-D -t 10.0.0.9:80\n" | ipvsadm -R; echo rc=$?'
c ipvsadm -Ln
c ipvsadm -C
s 'printf -- "ipvsadm\n\n\n-A -t 10.0.0.1:80 -s rr\n" | ipvsadm -R; echo rc=$?'
c ipvsadm -Ln
c ipvsadm -C
s 'printf -- "-A -t 10.0.0.1:80 -s rr\n-v\n-A -t 10.0.0.2:80\n" | ipvsadm -R; echo rc=$?'
c ipvsadm -Ln
c ipvsadm -C
s 'printf -- "-A -t 10.0.0.1:80 -s rr\n-L --timeout\n-L --daemon\n-Z\n" | ipvsadm -R; echo rc=$?'
c ipvsadm -C
s 'printf -- "-A -t localhost:http -s rr\n-a -t localhost:http -r 127.0.0.2:http-alt -m\n" | ipvsadm -R; echo rc=$?'
c ipvsadm -Ln
c ipvsadm -C
s 'printf -- "-R\n" | ipvsadm -R; echo rc=$?'
s 'printf -- "-A -t 10.0.0.1:80 -s rr\n-A -t 10.0.0.2:80 -s rr -o\n-A -t 10.0.0.3:80\n" | ipvsadm -R; echo rc=$?'
c ipvsadm -Ln
c ipvsadm -C
s 'printf -- "-A -t 10.0.0.1:80 -s rr\n-A -t 10.0.0.2:80 -s rr\n-A -t 10.0.0.1:80 -s rr\n" | ipvsadm -R; echo rc=$?'
c ipvsadm -Ln
c ipvsadm -C
s 'ipvsadm -R extra < /dev/null; echo rc=$?'
s 'ipvsadm -R -R < /dev/null; echo rc=$?'
