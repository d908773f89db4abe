// Renders the Deployment, Service and ServiceAccount that istiod makes for wordmix's Gateway,
// with Istio's own deployment controller and gateway template, so tests/deploy can check the
// pod Istio will create in namespace app. tests/deploy/_deploy.py copies this file into a
// writable copy of the istio.io/istio module at ISTIO_MODULE_VERSION, next to the controller
// (package gatewaycommon), and runs it with `go test`:
//
//	WORDMIX_OBJECTS  YAML: the rendered Gateway and its parametersRef ConfigMap
//	WORDMIX_VALUES   the injector values of the install (istioctl manifest generate)
//	WORDMIX_OUT      where the generated objects are written, as YAML documents
package gatewaycommon

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	kubeVersion "k8s.io/apimachinery/pkg/version"
	fakediscovery "k8s.io/client-go/discovery/fake"
	k8s "sigs.k8s.io/gateway-api/apis/v1"
	"sigs.k8s.io/yaml"

	"istio.io/istio/pilot/pkg/features"
	"istio.io/istio/pkg/cluster"
	"istio.io/istio/pkg/kube"
	"istio.io/istio/pkg/kube/kclient"
	"istio.io/istio/pkg/revisions"
	"istio.io/istio/pkg/test"
)

func TestWordmixGatewayRender(t *testing.T) {
	objects, err := os.ReadFile(os.Getenv("WORDMIX_OBJECTS"))
	if err != nil {
		t.Fatal(err)
	}
	values, err := os.ReadFile(os.Getenv("WORDMIX_VALUES"))
	if err != nil {
		t.Fatal(err)
	}
	var gw k8s.Gateway
	var cm corev1.ConfigMap
	for _, doc := range strings.Split(string(objects), "\n---\n") {
		var meta metav1.TypeMeta
		if err := yaml.Unmarshal([]byte(doc), &meta); err != nil {
			t.Fatal(err)
		}
		switch meta.Kind {
		case "Gateway":
			err = yaml.UnmarshalStrict([]byte(doc), &gw)
		case "ConfigMap":
			err = yaml.UnmarshalStrict([]byte(doc), &cm)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if gw.Name == "" || cm.Name == "" {
		t.Fatal("WORDMIX_OBJECTS needs the Gateway and its ConfigMap")
	}

	client := kube.NewFakeClient(
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: gw.Namespace}},
		&cm,
	)
	client.Kube().Discovery().(*fakediscovery.FakeDiscovery).FakedServerVersion = &kubeVersion.Info{Major: "1", Minor: "35"}
	kclient.NewWriteClient[*k8s.GatewayClass](client).Create(&k8s.GatewayClass{
		ObjectMeta: metav1.ObjectMeta{Name: string(gw.Spec.GatewayClassName)},
		Spec:       k8s.GatewayClassSpec{ControllerName: k8s.GatewayController(features.ManagedGatewayController)},
	})
	kclient.NewWriteClient[*k8s.Gateway](client).Create(gw.DeepCopy())

	buf := &bytes.Buffer{}
	stop := test.NewStop(t)
	env := newTestEnv()
	env.PushContext().InitDone.Store(true)
	tw := revisions.NewTagWatcher(client, "", "istio-system")
	go tw.Run(stop)
	d := NewDeploymentController(client, cluster.ID(features.ClusterName), env,
		testInjectionConfig(t, string(values)), func(fn func()) {}, tw, "", "")
	d.patcher = func(gvr schema.GroupVersionResource, name string, namespace string, data []byte, subresources ...string) error {
		b, err := yaml.JSONToYAML(data)
		if err != nil {
			return err
		}
		buf.Write(b)
		buf.WriteString("---\n")
		return nil
	}
	client.RunAndWait(stop)
	go d.Run(stop)
	kube.WaitForCacheSync("wordmix", stop, d.queue.HasSynced)
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(buf.String(), "kind: Deployment") && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	if !strings.Contains(buf.String(), "kind: Deployment") {
		t.Fatalf("the controller rendered no Deployment:\n%s", buf.String())
	}
	if err := os.WriteFile(os.Getenv("WORDMIX_OUT"), buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}
